"""Quickstart: fetch a corpus (default: latest Simple English Wikipedia dump), build everything, record it.

``build_home`` writes into one data home folder::

    home/docs.sqlite      doc store (H1's DocStore)
    home/sparse/          hashed BM25 index over paragraphs
    home/static/          static-vector index (the shipped tuned Model2Vec table; the CPU default)
    home/dense/           MiniLM FAISS index (built in the foreground on a GPU, in the background on a
                          CPU: ``indexing.background``)
    home/articles/        hashed sparse index over whole articles (doc units), for document-aware
                          paragraph ranking (``drqa_ng.retrieval.articles``); paragraph units only
    home/vocab/           the corpus word list (``drqa_ng.retrieval.vocabulary``): questions made of
                          words the corpus lacks are abstained on unread
    home/config.json      what was built, paths relative to home (``drqa_ng.config.HomeConfig``);
                          ``drqa-ng ask`` reads it

``download`` streams to ``<dest>.part`` with a progress bar, resumes a partial file with an HTTP
Range request when the server supports it (else restarts), and renames into place only when the
byte count matches ``Content-Length``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from drqa_ng.config import HomeConfig, HomeCounts
from drqa_ng.errors import DataFormatError, InputError, NotFoundError

log = logging.getLogger(__name__)

SIMPLEWIKI_URL = "https://dumps.wikimedia.org/simplewiki/latest/simplewiki-latest-pages-articles.xml.bz2"
URL_ENV = "DRQA_NG_WIKI_URL"
DOCS_NAME = "docs.sqlite"
SPARSE_NAME = "sparse"
DENSE_NAME = "dense"
STATIC_NAME = "static"
VOCAB_NAME = "vocab"
ARTICLES_NAME = "articles"
ARTICLE_SCORING = "tfidf"
"""Scoring of the article index: DrQA's document TF-IDF (hashed unigrams + bigrams)."""
DENSE_FUSION_WEIGHT = 0.7
"""interp weight of the MiniLM index fused with BM25 (same grid; ``indexing.background`` uses it too)."""
STATIC_FUSION_WEIGHT = 0.5
"""interp weight of a distilled (untuned) static index fused with BM25: the best of an 11-point grid
on the tune halves of the four shared question sets (README "Retrieval by default";
scripts/compare_dense_defaults.py)."""
TUNED_STATIC_FUSION_WEIGHT = 0.8
"""interp weight of the shipped tuned static model (``tuned-static``) fused with BM25: the best of
0.5 / 0.65 / 0.7 / 0.8 / 0.9 by mean top-5 recall of the default retriever on the encoder's held-out
tune questions (``scripts/compare_encoders.py --halves val``; docs/retrieval.md)."""
HOME_FACTORY = "SQ8"
"""FAISS factory of a data home's vector indexes (the static one, and the MiniLM one built in the
background or, on a GPU, in the foreground): one byte per dimension, its range per dimension
trained on a sample. On Simple English Wikipedia (378,897 paragraphs) the static index is 97 MB
instead of Flat's 388 MB and the MiniLM one 145 MB instead of 582 MB; a search is ~3x faster, and the
default retriever's test-half R@1/5/20 stay within 0.4 points of Flat on every question set
(``scripts/compare_encoders.py --index sq8=DIR``; docs/performance.md)."""


def static_fusion_weight(index: Path) -> float:
    """The interp weight for a static index: tuned for the shipped model, the older grid's otherwise."""
    from drqa_ng.retrieval.dense import DenseManifest
    from drqa_ng.retrieval.static import TUNED_STATIC_NAME

    name = DenseManifest.load(index).encoder.name
    return TUNED_STATIC_FUSION_WEIGHT if name == TUNED_STATIC_NAME else STATIC_FUSION_WEIGHT


@dataclass(frozen=True, slots=True)
class QuickstartReport:
    home: Path
    config: Path
    documents: int
    units: int
    dense_units: int
    seconds: tuple[tuple[str, float], ...]
    duplicates: int = 0
    """Documents skipped because their id was seen before."""
    empty: int = 0
    """Documents skipped because their text was empty."""
    static_units: int = 0


def default_url() -> str:
    """``$DRQA_NG_WIKI_URL`` when set, else the Simple English Wikipedia dump."""
    return os.environ.get(URL_ENV) or SIMPLEWIKI_URL


def download(
    url: str, dest: Path, *, progress: bool = True, chunk: int = 1 << 20, timeout: float = 60.0
) -> Path:
    """Stream ``url`` to ``dest`` (resuming ``dest.part``); an existing complete ``dest`` is reused."""
    dest = Path(dest)
    if dest.is_file():
        log.info("%s already downloaded", dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "drqa-ng quickstart"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the part file already holds the whole body
            os.replace(part, dest)
            return dest
        raise NotFoundError(f"download failed: {url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        raise NotFoundError(f"download failed: {url}: {e}") from e
    from tqdm import tqdm

    with resp:
        resumed = have > 0 and resp.status == 206
        if have and not resumed:
            log.info("server ignored the Range request; restarting %s", dest.name)
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        bar = tqdm(
            total=total,
            initial=have,
            unit="B",
            unit_scale=True,
            desc=f"download {dest.name}",
            disable=not progress,
            file=sys.stderr,
        )
        with open(part, "ab" if resumed else "wb") as f, bar:
            while block := resp.read(chunk):
                f.write(block)
                bar.update(len(block))
    size = part.stat().st_size
    if total is not None and size != total:
        raise DataFormatError(
            f"download of {url} is incomplete ({size} of {total} bytes); run again to resume"
        )
    os.replace(part, dest)
    return dest


def check_inputs(corpus: Sequence[Path] | None, dense_limit: int | None) -> None:
    """The cheap checks of a build, before any download, model import or step: InputError for no
    corpus or a bad ``dense_limit``, NotFoundError for a corpus path that does not exist."""
    from indexing.ingest.corpus import check_sources

    if corpus is not None and not corpus:
        raise InputError("no corpus given")
    if dense_limit is not None and dense_limit < 1:
        raise InputError(f"--dense-limit must be >= 1, got {dense_limit}")
    check_sources([Path(c) for c in corpus or ()])


def build_home(
    corpus: Sequence[Path],
    home: Path,
    *,
    unit: str = "paragraph",
    dense: bool = False,
    dense_limit: int | None = None,
    encoder: str | None = None,
    static: bool = False,
    static_model: str | None = None,
    progress: bool = True,
    on_step: Callable[[int, int, str], None] | None = None,
) -> QuickstartReport:
    """Build doc store, sparse index and (if ``dense``) a dense index from ``corpus`` into ``home``.

    Dense encoding runs the MiniLM encoder over every unit: on 2 CPU cores that is hours for Simple
    English Wikipedia, so callers keep it off on CPU or cap it with ``dense_limit`` (the first N
    units in store order; the hybrid retriever then fuses a full sparse ranking with a partial dense one).
    ``static`` builds a static-vector index (``drqa_ng.retrieval.static``; under a minute for Simple
    English Wikipedia on 2 cores with the shipped ``tuned-static`` model, or ``static_model``) fused
    with BM25 by ``interp`` at ``static_fusion_weight`` (0.8 for the shipped model, 0.5 otherwise).
    ``on_step(i, n, name)`` is called before each of the ``n`` build steps (the CLI prints a header).
    """
    from drqa_ng.store.docstore import DocStore
    from indexing.dense import build_static_index
    from indexing.docstore import build_docstore
    from indexing.ingest import read_corpus
    from indexing.ingest.corpus import CorpusMeter
    from indexing.sparse import build_sparse_from_store
    from indexing.vocabulary import build_vocabulary

    check_inputs(corpus, dense_limit)
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    timings: list[tuple[str, float]] = []
    steps = ["doc store", f"sparse index ({unit} units)"]
    articles = unit == "paragraph"  # passages and docs have no article above them to rank by
    steps += ["article index (doc units)"] if articles else []
    steps += [f"static index ({unit} units)"] if static else []
    steps += [f"dense index ({unit} units)"] if dense else []

    def step(i: int) -> None:
        if on_step is not None:
            on_step(i + 1, len(steps), steps[i])

    step(0)
    t = time.perf_counter()
    docs_path = home / DOCS_NAME
    meter = CorpusMeter()  # the bar's total: the input's bytes
    report = build_docstore(
        read_corpus([Path(c) for c in corpus], meter=meter),
        docs_path,
        show_progress=progress,
        sources=[str(c) for c in corpus],
        meter=meter,
    )
    timings.append(("docs", time.perf_counter() - t))
    if report.documents == 0:
        raise DataFormatError(f"no documents found in {', '.join(map(str, corpus))}")

    step(1)
    t = time.perf_counter()
    sparse_path = home / SPARSE_NAME
    sparse = build_sparse_from_store(docs_path, sparse_path, unit=unit, show_progress=progress)
    timings.append(("sparse", time.perf_counter() - t))
    t = time.perf_counter()
    build_vocabulary(docs_path, home / VOCAB_NAME, progress=progress)
    timings.append(("vocab", time.perf_counter() - t))
    if articles:
        step(2)
        t = time.perf_counter()
        build_sparse_from_store(
            docs_path, home / ARTICLES_NAME, unit="doc", scoring=ARTICLE_SCORING, show_progress=progress
        )
        timings.append(("articles", time.perf_counter() - t))
    indexes = [sparse_path]

    static_units, fusion, fusion_weight = 0, "rrf", None
    if static:
        step(steps.index(f"static index ({unit} units)"))
        t = time.perf_counter()
        static_units = build_static_index(
            docs_path, home / STATIC_NAME, unit, static_model, HOME_FACTORY, progress=progress
        ).count
        timings.append(("static", time.perf_counter() - t))
        indexes.append(home / STATIC_NAME)
        fusion, fusion_weight = "interp", static_fusion_weight(home / STATIC_NAME)

    dense_units = 0
    if dense:
        step(len(steps) - 1)
        t = time.perf_counter()
        dense_units = _build_dense(docs_path, home / DENSE_NAME, unit, dense_limit, encoder, progress)
        timings.append(("dense", time.perf_counter() - t))
        indexes.append(home / DENSE_NAME)
        if not static:  # the fusion the background build switches to (indexing.background)
            fusion, fusion_weight = "interp", DENSE_FUSION_WEIGHT

    with DocStore.open(docs_path) as store:
        info = store.info()
    cfg_path = HomeConfig(
        home=home,
        docs=docs_path,
        indexes=tuple(indexes),
        unit=unit,
        fusion=fusion,
        fusion_weight=fusion_weight,
        vocabulary=home / VOCAB_NAME,
        articles=home / ARTICLES_NAME if articles else None,
        corpus=tuple(str(Path(c).resolve()) for c in corpus),
        counts=HomeCounts(
            documents=info.documents,
            units=sparse.units,
            dense_units=dense_units,
            static_units=static_units,
            skipped_duplicates=report.duplicates,
            skipped_empty=report.empty,
        ),
        dense_limit=dense_limit,
        seconds=tuple((name, round(s, 2)) for name, s in timings),
        built=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    ).save()
    return QuickstartReport(
        home,
        cfg_path,
        info.documents,
        sparse.units,
        dense_units,
        tuple(timings),
        duplicates=report.duplicates,
        empty=report.empty,
        static_units=static_units,
    )


def _build_dense(
    docs: Path, out: Path, unit: str, limit: int | None, encoder: str | None, progress: bool
) -> int:
    from drqa_ng.retrieval.encoder import Encoder
    from drqa_ng.store.docstore import DocStore
    from indexing.dense import build_dense_from_units

    with DocStore.open(docs) as store:
        total = store.count(unit)  # type: ignore[arg-type]
        n = min(total, limit) if limit is not None else total
        enc = Encoder.load(encoder, backend="auto")
        res = build_dense_from_units(
            islice(store.iter_units(unit), n),  # type: ignore[arg-type]
            out,
            enc,
            unit,
            total=n,
            corpus_hash=store.corpus_hash(),
            docs_path=str(docs.resolve()),
            factory=HOME_FACTORY,
            progress=progress,
        )
    return res.count


def report_dict(report: QuickstartReport) -> dict[str, Any]:
    d = asdict(report)
    d["home"], d["config"] = str(report.home), str(report.config)
    d["seconds"] = dict(report.seconds)
    return d
