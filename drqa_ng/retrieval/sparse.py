"""Hashed sparse retrieval (DrQA TF-IDF or Okapi BM25) over a folder index.

Index folder (format version 1), all arrays mmap-loaded, no pickle:

- ``manifest.json`` (``SparseManifest``): kind "sparse", params (buckets, ngrams, filter mode, tokenizer, hash, scoring,
  k1, b, epsilon), counts, ``avgdl``, ``corpus_hash``, ``unit`` and the doc store path (``docs``).
- ``indptr.npy`` (int64, buckets + 1), ``indices.npy`` (int32 unit rows), ``data.npy`` (float32):
  a CSC matrix units x buckets holding the precomputed per-(unit, term) weight of ONE scoring.
- ``ids.bytes.npy`` / ``ids.offsets.npy``: the unit ids, row order (a ``StringArray``).

Why one weight set rather than raw counts: with the weights precomputed a query is just a
weighted sum of a few columns (the fastest possible query), and the index is half the size of
storing two weight sets; the query side needs only ``df`` (``diff(indptr)``) and manifest values.
Switching scoring means rebuilding, which is cheap next to the query-latency and size targets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

import numpy as np

from drqa_ng.errors import IndexFormatError
from drqa_ng.index_io import (
    ShardOf,
    StringArray,
    load_array,
    load_fields,
    non_decreasing,
    within,
    write_manifest,
)
from drqa_ng.retrieval.base import check_queries
from drqa_ng.retrieval.hashing import HashSpec, text_buckets
from drqa_ng.retrieval.scoring import BM25_EPSILON, bm25_query_weights, tfidf_idf, tfidf_query_weights
from drqa_ng.retrieval.tokenize import FilterMode
from drqa_ng.types import Hit, doc_id_of

log = logging.getLogger(__name__)

KIND = "sparse"
FORMAT_VERSION = 1
Scoring = Literal["bm25", "tfidf"]
SCORINGS: tuple[Scoring, ...] = ("bm25", "tfidf")


@dataclass(frozen=True, slots=True)
class QueryVector:
    """A query as hashed buckets with their query-side weights (sorted, unique buckets)."""

    buckets: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True, slots=True)
class SparseManifest:
    """``manifest.json`` of a sparse index: the one owner of its schema (``indexing.sparse`` writes it
    with ``save``, ``SparseIndex.open``, add-docs and sharding read it with ``load``).

    JSON layout (unchanged since format 1): ``unit``, ``corpus_hash``, ``docs``, ``params`` (the
    ``HashSpec`` fields + ``scoring``, ``k1``, ``b``, ``epsilon``, ``include_title``), ``counts``
    (``units``, ``nnz``, ``occupied_buckets``), ``avgdl``, ``average_idf``, ``build_seconds`` and, in
    a shard, ``shard_of`` (``units`` of the whole index, ``row_offset``). ``extra``: keys this version
    does not know, written back unchanged.
    """

    KIND: ClassVar[str] = KIND
    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION

    unit: str
    spec: HashSpec
    scoring: Scoring
    k1: float
    b: float
    include_title: bool
    units: int
    nnz: int
    occupied_buckets: int
    avgdl: float
    average_idf: float
    build_seconds: float = 0.0
    epsilon: float = BM25_EPSILON
    corpus_hash: str = ""
    docs: str | None = None
    shard_of: ShardOf | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON fields (without kind and format_version)."""
        data: dict[str, Any] = {
            **self.extra,
            "unit": self.unit,
            "corpus_hash": self.corpus_hash,
            "docs": self.docs,
            "params": {
                "scoring": self.scoring,
                "k1": self.k1,
                "b": self.b,
                "epsilon": self.epsilon,
                "buckets": self.spec.buckets,
                "ngrams": self.spec.ngrams,
                "filter_mode": self.spec.filter_mode,
                "tokenizer": self.spec.tokenizer,
                "tokenizer_version": self.spec.tokenizer_version,
                "hash": self.spec.hash,
                "include_title": self.include_title,
            },
            "counts": {"units": self.units, "nnz": self.nnz, "occupied_buckets": self.occupied_buckets},
            "avgdl": self.avgdl,
            "average_idf": self.average_idf,
            "build_seconds": self.build_seconds,
        }
        if self.shard_of is not None:
            data["shard_of"] = {"units": self.shard_of.total, "row_offset": self.shard_of.row_offset}
        return data

    def save(self, folder: Path) -> None:
        """Write ``folder/manifest.json`` (byte-identical to what format 1 has always written)."""
        write_manifest(folder, KIND, FORMAT_VERSION, **self.to_json())

    @classmethod
    def load(cls, folder: Path) -> SparseManifest:
        """Read and check ``folder/manifest.json``: NotFoundError, or IndexFormatError naming the problem."""
        f = load_fields(folder, KIND, FORMAT_VERSION)
        p, c = f.sub("params"), f.sub("counts")
        scoring = p.text("scoring")
        if scoring not in SCORINGS:
            raise IndexFormatError(f"{folder}: unknown scoring {scoring!r}")
        try:
            spec = HashSpec(
                buckets=p.integer("buckets"),
                ngrams=p.integer("ngrams"),
                filter_mode=cast(FilterMode, p.text("filter_mode")),
                tokenizer=p.text("tokenizer"),
                tokenizer_version=p.integer("tokenizer_version"),
                hash=p.text("hash"),
            )
        except ValueError as e:
            raise IndexFormatError(f"sparse manifest has bad params: {e}") from e
        shard = f.sub("shard_of") if f.has("shard_of") else None
        m = cls(
            unit=f.text("unit"),
            spec=spec,
            scoring=cast(Scoring, scoring),
            k1=p.number("k1"),
            b=p.number("b"),
            include_title=p.flag("include_title"),
            units=c.integer("units"),
            nnz=c.integer("nnz"),
            occupied_buckets=c.integer("occupied_buckets"),
            avgdl=f.number("avgdl"),
            average_idf=f.number("average_idf"),
            build_seconds=f.number("build_seconds", 0.0),
            epsilon=p.number("epsilon", BM25_EPSILON),
            corpus_hash=f.text("corpus_hash", ""),
            docs=f.opt_text("docs"),
            shard_of=None if shard is None else ShardOf(shard.integer("units"), shard.integer("row_offset")),
        )
        # keys this version does not write: kept, so a rewrite of the manifest loses nothing
        return replace(m, extra=f.unknown(m.to_json()))


class SparseIndex:
    """A memory-mapped hashed sparse index; cheap to open, batch ``search``."""

    def __init__(
        self,
        path: Path,
        manifest: SparseManifest,
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        ids: StringArray,
    ) -> None:
        self.path = Path(path)
        self._manifest = manifest
        self._indptr = indptr
        self._indices = indices
        self._data = data
        self._ids = ids
        self._spec = manifest.spec
        self._scoring: Scoring = manifest.scoring
        self._n = manifest.units

    @classmethod
    def open(cls, path: Path) -> SparseIndex:
        """Open an index folder, checking kind, version and array consistency (IndexFormatError)."""
        path = Path(path)
        manifest = SparseManifest.load(path)
        spec, n_units, nnz = manifest.spec, manifest.units, manifest.nnz
        indptr = load_array(path, "indptr.npy")
        indices = load_array(path, "indices.npy")
        data = load_array(path, "data.npy")
        ids = StringArray.open(path, "ids")
        problems = []
        if indptr.dtype != np.int64 or indptr.shape != (spec.buckets + 1,):
            problems.append(f"indptr has {indptr.dtype}{indptr.shape}, expected int64 ({spec.buckets + 1},)")
        elif int(indptr[0]) != 0 or int(indptr[-1]) != nnz:
            problems.append("indptr does not span the stored entries")
        elif not non_decreasing(indptr):
            problems.append("indptr is not monotone")
        if indices.dtype != np.int32 or indices.shape != (nnz,):
            problems.append(f"indices has {indices.dtype}{indices.shape}, expected int32 ({nnz},)")
        elif not within(indices, n_units):
            # One pass over the array (mmap'd, read in chunks): a value past the units would be an
            # IndexError on the first query that reaches it.
            problems.append(f"indices hold unit rows outside 0..{n_units - 1}")
        if data.dtype != np.float32 or data.shape != (nnz,):
            problems.append(f"data has {data.dtype}{data.shape}, expected float32 ({nnz},)")
        if len(ids) != n_units:
            problems.append(f"{len(ids)} unit ids for {n_units} units")
        if problems:
            raise IndexFormatError(f"{path} is corrupt: " + "; ".join(problems))
        log.info("opened sparse index %s: %d units, %d entries", path, n_units, nnz)
        return cls(path, manifest, indptr, indices, data, ids)

    @property
    def unit(self) -> str:
        return self._manifest.unit

    @property
    def manifest(self) -> SparseManifest:
        return self._manifest

    @property
    def scoring(self) -> Scoring:
        return self._scoring

    def __len__(self) -> int:
        return self._n

    def unit_ids(self, rows: Sequence[int]) -> list[str]:
        """Unit ids of index rows."""
        return self._ids.take(rows)

    def query_vector(self, query: str) -> QueryVector:
        """Hash a query and weight its buckets for this index's scoring."""
        buckets, qtf = np.unique(text_buckets(query, self._spec), return_counts=True)
        if self._scoring == "bm25":
            weights = bm25_query_weights(qtf)
        else:
            df = (self._indptr[buckets + 1] - self._indptr[buckets]).astype(np.float64)
            weights = tfidf_query_weights(qtf, tfidf_idf(df, self._n))
        return QueryVector(buckets, weights)

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the units sharing a term with ``query`` (the dense path drops 0 scores)."""
        qv = self.query_vector(query)
        starts, ends = self._indptr[qv.buckets], self._indptr[qv.buckets + 1]
        total = int((ends - starts).sum())
        if total == 0:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        rows = np.concatenate([self._indices[s:e] for s, e in zip(starts, ends, strict=True)])
        vals = np.concatenate([self._data[s:e] * w for s, e, w in zip(starts, ends, qv.weights, strict=True)])
        # Long postings: dense accumulation is O(total + N) with no sort; short: sort the few rows.
        if total * 16 > self._n:
            dense = np.bincount(rows, weights=vals, minlength=self._n)
            cand = np.flatnonzero(dense)
            return cand, dense[cand]
        cand, inverse = np.unique(rows, return_inverse=True)
        return cand.astype(np.int64), np.bincount(inverse, weights=vals)

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top ``k`` units per query, best first (ties broken by index row); InputError on bad input.

        Only units with a non-zero score are returned, so a list may be shorter than ``k``.
        """
        check_queries(queries, k)
        out: list[list[Hit]] = []
        for q in queries:
            rows, sc = self.scores(q)
            # A zero score (only terms with idf 0 matched) is no evidence: not a hit.
            nonzero = sc != 0
            rows, sc = rows[nonzero], sc[nonzero]
            if len(rows) > k:
                part = np.argpartition(-sc, k - 1)[:k]
                rows, sc = rows[part], sc[part]
            order = np.lexsort((rows, -sc))
            rows, sc = rows[order], sc[order]
            ids = self._ids.take(rows)
            out.append([Hit(i, doc_id_of(i), float(s)) for i, s in zip(ids, sc, strict=True)])
        return out
