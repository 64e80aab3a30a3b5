"""Dense retrieval over a FAISS index of L2-normalised sentence embeddings (inner product = cosine).

An index folder (written by ``indexing.dense``) holds:

- ``index.faiss`` — the FAISS index (any factory string: Flat, HNSW32, IVF…,PQ…, HNSW32,SQ8 …);
- ``ids.bytes.npy`` / ``ids.offsets.npy`` — unit ids in FAISS row order (``StringArray``);
- ``manifest.json`` (``DenseManifest``) — kind ``"dense"``, format version, encoder name + weights
  sha256, dim, factory, metric, counts, unit, corpus hash, docs path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np

from drqa_ng.errors import IndexFormatError, InputError, UnsupportedError
from drqa_ng.index_io import Fields, ShardOf, StringArray, load_fields, write_manifest
from drqa_ng.retrieval.encoder import Backend, Encoder, TextEncoder
from drqa_ng.types import Hit, doc_id_of

log = logging.getLogger(__name__)

KIND = "dense"
FORMAT_VERSION = 1
INDEX_FILE = "index.faiss"
IDS_STEM = "ids"
QUERY_CACHE = 256
"""Query vectors a ``DenseIndex`` keeps (its most recent one-at-a-time encodings)."""


@dataclass(frozen=True, slots=True)
class EncoderRecord:
    """The passage encoder a dense index was built with (queries must use the same one)."""

    name: str | None
    sha256: str
    backend: str = "torch"
    max_length: int = 256
    query_max_length: int = 64
    text_format: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "backend": self.backend,
            "max_length": self.max_length,
            "query_max_length": self.query_max_length,
            "text_format": self.text_format,
        }

    @classmethod
    def from_fields(cls, f: Fields) -> EncoderRecord:
        return cls(
            name=f.opt_text("name"),
            sha256=f.text("sha256", ""),
            backend=f.text("backend", "torch"),
            max_length=f.integer("max_length", 256),
            query_max_length=f.integer("query_max_length", 64),
            text_format=f.text("text_format", ""),
        )


@dataclass(frozen=True, slots=True)
class DenseManifest:
    """``manifest.json`` of a dense index: the one owner of its schema (``indexing.dense`` writes it
    with ``save``; ``DenseIndex.open``, add-docs and sharding read it with ``load``).

    ``chunk_size``/``batch_size``: the encoder's batching at build time (add-docs re-encodes the last
    partial chunk with them). ``shard_of`` (``count`` of the whole index, ``row_offset``) only in a
    shard. ``extra``: keys this version does not know, written back unchanged.
    """

    KIND: ClassVar[str] = KIND
    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION

    unit: str
    count: int
    dim: int
    factory: str
    encoder: EncoderRecord
    requested_factory: str = ""
    metric: str = "inner_product"
    normalized: bool = True
    corpus_hash: str = ""
    docs: str | None = None
    faiss_version: str = ""
    train_seed: int = 0
    faiss_seconds: float = 0.0
    chunk_size: int = 0
    batch_size: int = 64
    shard_of: ShardOf | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON fields (without kind and format_version)."""
        data: dict[str, Any] = {
            **self.extra,
            "unit": self.unit,
            "count": self.count,
            "dim": self.dim,
            "factory": self.factory,
            "requested_factory": self.requested_factory,
            "metric": self.metric,
            "normalized": self.normalized,
            "encoder": self.encoder.to_json(),
            "corpus_hash": self.corpus_hash,
            "docs": self.docs,
            "faiss_version": self.faiss_version,
            "train_seed": self.train_seed,
            "faiss_seconds": self.faiss_seconds,
            "chunk_size": self.chunk_size,
            "batch_size": self.batch_size,
        }
        if self.shard_of is not None:
            data["shard_of"] = {"count": self.shard_of.total, "row_offset": self.shard_of.row_offset}
        return data

    def save(self, folder: Path) -> None:
        """Write ``folder/manifest.json`` (byte-identical to what format 1 has always written)."""
        write_manifest(folder, KIND, FORMAT_VERSION, **self.to_json())

    @classmethod
    def load(cls, folder: Path) -> DenseManifest:
        """Read and check ``folder/manifest.json``: NotFoundError, or IndexFormatError naming the problem."""
        f = load_fields(folder, KIND, FORMAT_VERSION)
        shard = f.sub("shard_of") if f.has("shard_of") else None
        m = cls(
            unit=f.text("unit"),
            count=f.integer("count"),
            dim=f.integer("dim"),
            factory=f.text("factory"),
            encoder=EncoderRecord.from_fields(f.sub("encoder")),
            requested_factory=f.text("requested_factory", ""),
            metric=f.text("metric", "inner_product"),
            normalized=f.flag("normalized", True),
            corpus_hash=f.text("corpus_hash", ""),
            docs=f.opt_text("docs"),
            faiss_version=f.text("faiss_version", ""),
            train_seed=f.integer("train_seed", 0),
            faiss_seconds=f.number("faiss_seconds", 0.0),
            chunk_size=f.integer("chunk_size", 0),
            batch_size=f.integer("batch_size", 64),
            shard_of=None if shard is None else ShardOf(shard.integer("count"), shard.integer("row_offset")),
        )
        # keys this version does not write: kept, so a rewrite of the manifest loses nothing
        return replace(m, extra=f.unknown(m.to_json()))


def gpu_available() -> bool:
    """True when the installed faiss is a GPU build and sees at least one GPU."""
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class DenseIndex:
    """A dense index folder opened for search. Construct with ``DenseIndex.open``."""

    def __init__(
        self,
        path: Path,
        index: Any,
        ids: Sequence[str],
        manifest: DenseManifest,
        encoder: TextEncoder | None = None,
        on_gpu: bool = False,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.on_gpu = on_gpu
        self._index = index
        self._ids = ids
        self._encoder = encoder
        self._query_cache: dict[str, np.ndarray] = {}
        self._cache_lock = threading.Lock()  # serve asks from several threads
        self._row_map: dict[str, int] | None = None

    @classmethod
    def open(
        cls, path: Path | str, encoder: TextEncoder | None = None, use_gpu: bool | None = None
    ) -> DenseIndex:
        """Open and check an index folder.

        ``encoder``: the query encoder; None loads the one recorded in the manifest on the first text
        query (so vector-only use never loads a model). ``use_gpu``: None = move a Flat index to the
        GPU when faiss-gpu sees one; False = never; True = required.
        """
        import faiss

        path = Path(path)
        manifest = DenseManifest.load(path)
        ipath = path / INDEX_FILE
        if not ipath.is_file():
            raise IndexFormatError(f"{path} is incomplete: {INDEX_FILE} missing")
        try:
            index = faiss.read_index(str(ipath))
        except RuntimeError as e:
            raise IndexFormatError(f"{ipath} is corrupt: {str(e).splitlines()[0]}") from e
        ids = StringArray.open(path, IDS_STEM)
        dim, count = manifest.dim, manifest.count
        if index.d != dim or index.ntotal != count or len(ids) != count:
            raise IndexFormatError(
                f"{path} is inconsistent: faiss d={index.d} ntotal={index.ntotal}, "
                f"{len(ids)} ids, manifest dim={dim} count={count}"
            )
        if encoder is not None:
            _check_encoder(encoder, manifest, path)
        on_gpu = False
        want_gpu = gpu_available() if use_gpu is None else use_gpu
        if want_gpu:
            if not gpu_available():
                raise IndexFormatError("use_gpu=True but this faiss build sees no GPU")
            if isinstance(faiss.downcast_index(index), faiss.IndexFlat):
                index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
                on_gpu = True
            else:  # HNSW has no GPU version; IVF could move but gains little at our sizes
                log.warning("only Flat indexes are moved to the GPU; %s stays on CPU", manifest.factory)
        log.info(
            "dense index %s: %d %s vectors, %s%s",
            path,
            count,
            manifest.unit,
            manifest.factory,
            " (GPU)" if on_gpu else "",
        )
        return cls(path, index, ids, manifest, encoder, on_gpu)

    @property
    def unit(self) -> str:
        return self.manifest.unit

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def encoder(self) -> TextEncoder:
        """The query encoder (loaded from the manifest's record on first use)."""
        if self._encoder is None:
            rec = self.manifest.encoder
            self._encoder = encoder_from_record(rec, rec.query_max_length)
            _check_encoder(self._encoder, self.manifest, self.path)
        return self._encoder

    def set_search_params(self, nprobe: int | None = None, ef_search: int | None = None) -> None:
        """Set IVF ``nprobe`` and/or HNSW ``efSearch`` (ignored by index types without them)."""
        import faiss

        ps = faiss.GpuParameterSpace() if self.on_gpu else faiss.ParameterSpace()
        for name, value in (("nprobe", nprobe), ("efSearch", ef_search)):
            if value is None:
                continue
            if value < 1:
                raise InputError(f"{name} must be >= 1, got {value}")
            try:
                ps.set_index_parameter(self._index, name, int(value))
            except RuntimeError:
                log.warning("index %s has no %s parameter; ignored", self.manifest.factory, name)

    def search(self, queries: Sequence[str], k: int, batch_size: int = 1) -> list[list[Hit]]:
        """Encode the queries and run one FAISS search; best ``k`` per query.

        Queries are encoded ``batch_size`` at a time, one by default: the int8 encoder computes its
        activation scales over the whole batch (and padding changes fp32 kernel shapes), so encoding
        queries together would make a query's hits depend on the other queries of its batch.
        """
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        if not queries:
            return []
        return self.search_vectors(self.query_vectors(queries, batch_size), k)

    def query_vectors(self, queries: Sequence[str], batch_size: int = 1) -> np.ndarray:
        """(n, dim) query vectors; the last ``QUERY_CACHE`` one-at-a-time encodings are kept, so
        ``similarities`` after ``search`` on the same questions encodes nothing again."""
        qmax = self.manifest.encoder.query_max_length
        if batch_size != 1:
            return self.encoder.encode(list(queries), batch_size=batch_size, max_length=qmax)
        with self._cache_lock:
            found = {q: self._query_cache[q] for q in queries if q in self._query_cache}
        missing = list(dict.fromkeys(q for q in queries if q not in found))
        if missing:
            found.update(
                zip(missing, self.encoder.encode(missing, batch_size=1, max_length=qmax), strict=True)
            )
            with self._cache_lock:
                for q in missing:
                    if len(self._query_cache) >= QUERY_CACHE:
                        self._query_cache.pop(next(iter(self._query_cache)))  # oldest first
                    self._query_cache[q] = found[q]
        return np.stack([found[q] for q in queries]).astype(np.float32)

    def similarities(self, queries: Sequence[str], ids: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Inner product of each query's vector with the stored vector of each of its ``ids`` (NaN for
        an id the index does not hold): sim(q, p) = e(q) · v_p, the score ``search`` ranks by, for
        units that came from elsewhere (e.g. article expansion). Stored vectors are read back from
        FAISS (``stored_vectors``)."""
        if len(ids) != len(queries):
            raise InputError(f"{len(queries)} queries but {len(ids)} id lists")
        vecs = self.query_vectors(queries)
        out: list[np.ndarray] = []
        for v, group in zip(vecs, ids, strict=True):
            rows = self._rows_of(list(group))
            sims = np.full(len(group), np.nan, dtype=np.float32)
            ok = rows >= 0
            if ok.any():
                try:
                    sims[ok] = stored_vectors(self._index, rows[ok]) @ v
                except RuntimeError as e:
                    msg = f"{self.path}: a {self.manifest.factory} index cannot return its vectors"
                    raise UnsupportedError(msg) from e
            out.append(sims)
        return out

    def _rows_of(self, ids: list[str]) -> np.ndarray:
        rows_of = getattr(self._ids, "rows_of", None)  # StringArray and sharded ids: a sorted hash
        if rows_of is not None:
            return np.asarray(rows_of(ids), dtype=np.int64)
        if self._row_map is None:  # a plain list of ids: one dict, built on first use
            self._row_map = {u: i for i, u in enumerate(self._ids)}
        return np.array([self._row_map.get(u, -1) for u in ids], dtype=np.int64)

    def search_vectors(self, vecs: np.ndarray, k: int) -> list[list[Hit]]:
        """Search with precomputed (n, dim) query vectors (L2-normalised); best ``k`` per row."""
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[1] != self._index.d:
            raise InputError(f"query vectors must be (n, {self._index.d}), got {vecs.shape}")
        if len(vecs) == 0:
            return []
        scores, rows = self._index.search(vecs, min(k, max(len(self._ids), 1)))
        out: list[list[Hit]] = []
        for srow, irow in zip(scores, rows, strict=True):
            hits = []
            for s, r in zip(srow, irow, strict=True):
                if r < 0:  # faiss pads with -1 when an approximate index finds fewer than k
                    continue
                uid = self._ids[int(r)]
                hits.append(Hit(id=uid, doc_id=doc_id_of(uid), score=float(s)))
            out.append(hits)
        return out


def stored_vectors(index: Any, rows: np.ndarray) -> np.ndarray:
    """The vectors a FAISS index stores at ``rows`` (float32, one row each). ``IndexShards`` (sharded
    indexes, successive ids) is read shard by shard; an IVF index gets its direct map on first use.
    Raises FAISS's ``RuntimeError`` for index types that keep no vectors to give back."""
    import faiss

    rows = np.asarray(rows, dtype=np.int64)
    if isinstance(index, faiss.IndexShards):
        shards = [index.at(i) for i in range(index.count())]  # type: ignore[attr-defined]
        starts = np.cumsum([0, *(sh.ntotal for sh in shards)])
        which = np.searchsorted(starts, rows, side="right") - 1
        out = np.empty((len(rows), index.d), dtype=np.float32)
        for i in np.unique(which).tolist():
            sel = which == i
            out[sel] = stored_vectors(shards[i], rows[sel] - starts[i])
        return out
    try:
        return np.asarray(index.reconstruct_batch(rows), dtype=np.float32)
    except RuntimeError:
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is None:
            raise
        ivf.make_direct_map()
    return np.asarray(index.reconstruct_batch(rows), dtype=np.float32)


def encoder_from_record(rec: EncoderRecord, max_length: int, device: str | None = None) -> TextEncoder:
    """Load the encoder a manifest's ``encoder`` record names, on the runtime the passages used
    (``backend``: torch, onnx-int8, or static for ``drqa_ng.retrieval.static`` models)."""
    if rec.backend == "static":
        from drqa_ng.retrieval.static import StaticEncoder

        return StaticEncoder.load(rec.name, max_length=max_length)
    return Encoder.load(rec.name, device=device, backend=cast(Backend, rec.backend), max_length=max_length)


def _check_encoder(encoder: TextEncoder, manifest: DenseManifest, path: Path) -> None:
    rec = manifest.encoder
    if encoder.dim != manifest.dim:
        raise InputError(
            f"encoder {encoder.name} gives {encoder.dim}-d vectors; {path} holds {manifest.dim}-d"
        )
    if rec.sha256 and rec.sha256 != encoder.sha256:
        log.warning(
            "query encoder %s (sha256 %s) differs from the one %s was built with (%s, %s)",
            encoder.name,
            encoder.sha256[:12],
            path,
            rec.name,
            rec.sha256[:12],
        )
