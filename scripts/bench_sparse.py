"""Benchmark drqa_ng's sparse index (BM25, TF-IDF) against bm25s and rank_bm25 on a synthetic corpus.

Corpus: N passages of ~100 words (seeded), words "w<rank>" drawn from a Zipf-like distribution
(p ~ 1 / rank**a over a fixed vocabulary), written once to a text file. Queries: 3-6 words drawn
from the same distribution but skipping the top ``--skip-top`` ranks (real systems drop those as
stopwords; drqa_ng's stopword list does not know synthetic words).

Every system is measured in its own child process (multiprocessing "spawn"): one child builds
(build seconds, peak RSS of that child via ``resource.getrusage``), a fresh child opens the saved
index and runs the queries (open seconds, single-query latency p50/p95 at k, batch queries/s).
rank_bm25 has no index format and scans every document per query in Python, so it runs on a
subsample (``--rank-bm25-n``); its numbers are labelled with the size they were measured at and
latency is also shown linearly extrapolated to N (its query cost is O(N) per query term).

Usage: nice python scripts/bench_sparse.py --n 200000 [--workdir /tmp/bench_sparse]
Prints a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Result:
    system: str
    n: int
    build_s: float = float("nan")
    build_cpu_s: float = float("nan")
    peak_rss_mb: float = float("nan")
    index_mb: float = float("nan")
    open_s: float = float("nan")
    p50_ms: float = float("nan")
    p95_ms: float = float("nan")
    batch_qps: float = float("nan")
    note: str = ""


# ---------------------------------------------------------------------------------------------- data


def make_corpus(path: Path, n: int, seed: int, vocab: int, zipf_a: float, words: int) -> None:
    """Write n passages (one per line) of ``words`` +-20% Zipf-distributed words."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1) ** zipf_a
    p /= p.sum()
    names = np.array([f"w{i}" for i in range(vocab)])
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, n, 10_000):
            m = min(10_000, n - start)
            lens = rng.integers(int(words * 0.8), int(words * 1.2) + 1, size=m)
            draws = names[rng.choice(vocab, size=int(lens.sum()), p=p)]
            pos = 0
            for ln in lens:
                f.write(" ".join(draws[pos : pos + ln]) + "\n")
                pos += ln


def make_queries(n_queries: int, seed: int, vocab: int, zipf_a: float, skip_top: int) -> list[str]:
    rng = np.random.default_rng(seed + 1)
    ranks = np.arange(skip_top + 1, vocab + 1)
    p = 1.0 / ranks.astype(np.float64) ** zipf_a
    p /= p.sum()
    out = []
    for _ in range(n_queries):
        ids = rng.choice(ranks - 1, size=int(rng.integers(3, 7)), p=p)
        out.append(" ".join(f"w{i}" for i in ids))
    return out


def read_lines(path: Path, limit: int | None = None) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                return
            yield line.rstrip("\n")


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def peak_rss_mb() -> float:
    """Peak RSS of this process plus that of its largest finished child (a build worker), in MiB.

    An upper bound for one worker; with more, workers ran side by side with similar peaks.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024  # Linux: KiB


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (robust to a busy machine)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


# -------------------------------------------------------------------------------- child-side work


def _build_drqa(corpus: Path, out: Path, n: int, scoring: str, buckets: int, workers: int) -> dict[str, Any]:
    from drqa_ng.types import Passage
    from indexing.sparse import build_sparse_index

    def units() -> Iterator[Passage]:
        for i, text in enumerate(read_lines(corpus, n)):
            yield Passage(f"p{i}", f"p{i}", "", text, 0, len(text))

    t0 = time.perf_counter()
    build_sparse_index(
        units(), out, unit="passage", scoring=scoring, buckets=buckets, include_title=False, show_progress=False,
        workers=workers,
    )  # fmt: skip
    return {"build_s": time.perf_counter() - t0}


def _build_bm25s(corpus: Path, out: Path, n: int) -> dict[str, Any]:
    import bm25s

    t0 = time.perf_counter()
    texts = list(read_lines(corpus, n))  # bm25s's API needs the whole corpus in memory
    tokens = bm25s.tokenize(texts, stopwords="en", show_progress=False)
    del texts
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    model.save(str(out), show_progress=False)
    return {"build_s": time.perf_counter() - t0}


def _timed_queries(
    search_one: Callable[[str], Any], search_batch: Callable[[list[str]], Any], queries: list[str]
) -> dict[str, float]:
    search_one(queries[0])  # warm-up: page in the hottest columns once
    lat: list[float] = []
    for q in queries:
        t = time.perf_counter()
        search_one(q)
        lat.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    search_batch(queries)
    qps = len(queries) / (time.perf_counter() - t)
    cuts = statistics.quantiles(lat, n=20)
    return {"p50_ms": statistics.median(lat), "p95_ms": cuts[18], "batch_qps": qps}


def _query_drqa(out: Path, queries: list[str], k: int) -> dict[str, Any]:
    from drqa_ng.retrieval.sparse import SparseIndex

    t0 = time.perf_counter()
    idx = SparseIndex.open(out)
    open_s = time.perf_counter() - t0
    res = _timed_queries(lambda q: idx.search([q], k), lambda qs: idx.search(qs, k), queries)
    return {"open_s": open_s, **res}


def _query_bm25s(out: Path, queries: list[str], k: int, mmap: bool) -> dict[str, Any]:
    import bm25s

    t0 = time.perf_counter()
    model = bm25s.BM25.load(str(out), mmap=mmap, show_progress=False)
    open_s = time.perf_counter() - t0

    def one(q: str) -> Any:
        toks = bm25s.tokenize([q], stopwords="en", return_ids=False, show_progress=False)
        return model.retrieve(toks, k=k, show_progress=False, n_threads=1)

    def batch(qs: list[str]) -> Any:
        toks = bm25s.tokenize(qs, stopwords="en", return_ids=False, show_progress=False)
        return model.retrieve(toks, k=k, show_progress=False, n_threads=1)

    return {"open_s": open_s, **_timed_queries(one, batch, queries)}


def _rank_bm25_all(corpus: Path, n: int, queries: list[str], k: int) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    from drqa_ng.retrieval.tokenize import ngrams, token_texts

    t0 = time.perf_counter()
    model = BM25Okapi([ngrams(token_texts(t)) for t in read_lines(corpus, n)])
    build_s = time.perf_counter() - t0

    def one(q: str) -> Any:
        s = model.get_scores(ngrams(token_texts(q)))
        return np.argpartition(-s, k)[:k]

    return {"build_s": build_s, **_timed_queries(one, lambda qs: [one(q) for q in qs], queries)}


def _child(fn_name: str, kwargs: dict[str, Any], conn: Any) -> None:
    fn = globals()[fn_name]
    try:
        cpu0 = cpu_seconds()
        res = fn(**kwargs)
        res["peak_rss_mb"] = peak_rss_mb()
        res["cpu_s"] = cpu_seconds() - cpu0
        conn.send(res)
    except Exception as e:  # report any failure to the parent instead of hanging it
        conn.send({"error": f"{type(e).__name__}: {e}"})


def run_child(fn_name: str, **kwargs: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(fn_name, kwargs, child))
    proc.start()
    res: dict[str, Any] = parent.recv()
    proc.join()
    if "error" in res:
        print(f"warning: {fn_name} failed: {res['error']}", file=sys.stderr)
    return res


def real_index_latency(index: Path, questions: Path, n: int, k: int) -> str:
    """Open time and latency of an existing index on real questions, measured in a child process."""
    from drqa_ng.evaluation.datasets import load_questions

    qs = [q.question for q in load_questions(questions)][:n]
    r = run_child("_query_drqa", out=index, queries=qs, k=k)
    return (
        f"| index | questions | open s | p50 ms | p95 ms | batch q/s | query RSS MB |\n|---|---|---|---|---|---|---|\n"
        f"| {index} | {len(qs)} from {questions.name} | {fmt(r['open_s'], 3)} | {fmt(r['p50_ms'], 2)} | "
        f"{fmt(r['p95_ms'], 2)} | {fmt(r['batch_qps'], 0)} | {fmt(r['peak_rss_mb'], 0)} |"
    )


# ------------------------------------------------------------------------------------------ report


def fmt(v: float, digits: int = 1) -> str:
    return "–" if v != v else f"{v:,.{digits}f}"


def table(results: list[Result]) -> str:
    head = "| system | N | build s | build CPU s | peak RSS MB | index MB | open s | p50 ms | p95 ms | batch q/s | note |"
    lines = [head, "|" + "---|" * 11]
    for r in results:
        lines.append(
            f"| {r.system} | {r.n:,} | {fmt(r.build_s)} | {fmt(r.build_cpu_s)} | {fmt(r.peak_rss_mb, 0)} | {fmt(r.index_mb)} | "
            f"{fmt(r.open_s, 3)} | {fmt(r.p50_ms, 2)} | {fmt(r.p95_ms, 2)} | {fmt(r.batch_qps, 0)} | {r.note} |"
        )
    return "\n".join(lines)


def ratios(base: Result, others: list[Result]) -> str:
    lines = [
        f"| {base.system} vs | build time ÷ | peak RSS ÷ | size ÷ | p50 speed-up × | batch q/s × |",
        "|---|---|---|---|---|---|",
    ]
    for o in others:
        lines.append(
            f"| {o.system} ({o.note or f'N={o.n:,}'}) | {fmt(base.build_s / o.build_s, 2)} | "
            f"{fmt(base.peak_rss_mb / o.peak_rss_mb, 2)} | {fmt(base.index_mb / o.index_mb, 2)} | "
            f"{fmt(o.p50_ms / base.p50_ms, 1)} | {fmt(base.batch_qps / o.batch_qps, 1)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="passages (default 200k)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=200_000, help="vocabulary size")
    ap.add_argument("--zipf-a", type=float, default=1.07, help="Zipf exponent")
    ap.add_argument("--words", type=int, default=100, help="mean words per passage")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip-top", type=int, default=50, help="query words skip the most frequent ranks")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--buckets", type=int, default=2**24)
    ap.add_argument("--workers", type=int, default=1, help="drqa_ng build worker processes")
    ap.add_argument("--rank-bm25-n", type=int, default=20_000, help="rank_bm25 subsample size")
    ap.add_argument("--rank-bm25-queries", type=int, default=50)
    ap.add_argument("--systems", default="drqa_bm25,drqa_tfidf,bm25s,rank_bm25")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench_sparse"))
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--real-index", type=Path, help="instead: time queries on this existing index")
    ap.add_argument("--real-questions", type=Path, help="questions file (SQuAD JSON or DrQA JSONL)")
    args = ap.parse_args(argv)
    if args.real_index:
        if not args.real_questions:
            ap.error("--real-index needs --real-questions")
        print(real_index_latency(args.real_index, args.real_questions, args.queries, args.k))
        return 0
    systems = args.systems.split(",")
    args.workdir.mkdir(parents=True, exist_ok=True)
    corpus = args.workdir / f"corpus_{args.n}_{args.seed}.txt"
    if not corpus.exists():
        t = time.perf_counter()
        make_corpus(corpus, args.n, args.seed, args.vocab, args.zipf_a, args.words)
        print(f"generated {corpus} in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    queries = make_queries(args.queries, args.seed, args.vocab, args.zipf_a, args.skip_top)
    results: list[Result] = []
    for system in systems:
        print(f"running {system} ...", file=sys.stderr, flush=True)
        out = args.workdir / f"idx_{system}_{args.n}"
        if system.startswith("drqa_"):
            scoring = system.split("_", 1)[1]
            b = run_child("_build_drqa", corpus=corpus, out=out, n=args.n, scoring=scoring, buckets=args.buckets,
                          workers=args.workers)  # fmt: skip
            q = run_child("_query_drqa", out=out, queries=queries, k=args.k)
            results.append(
                Result(f"drqa_ng {scoring}", args.n, b.get("build_s", np.nan), b.get("cpu_s", np.nan),
                       b.get("peak_rss_mb", np.nan),
                       folder_mb(out), q.get("open_s", np.nan), q.get("p50_ms", np.nan), q.get("p95_ms", np.nan),
                       q.get("batch_qps", np.nan),
                       f"uni+bigrams, 2^{int(np.log2(args.buckets))} buckets, {args.workers} build worker(s)")
            )  # fmt: skip
        elif system == "bm25s":
            b = run_child("_build_bm25s", corpus=corpus, out=out, n=args.n)
            for mmap in (True, False):
                q = run_child("_query_bm25s", out=out, queries=queries, k=args.k, mmap=mmap)
                results.append(
                    Result("bm25s", args.n, b.get("build_s", np.nan), b.get("cpu_s", np.nan),
                           b.get("peak_rss_mb", np.nan), folder_mb(out), q.get("open_s", np.nan),
                           q.get("p50_ms", np.nan), q.get("p95_ms", np.nan), q.get("batch_qps", np.nan),
                           f"unigrams, 1 thread, {'mmap' if mmap else 'loaded in RAM'}")
                )  # fmt: skip
        elif system == "rank_bm25":
            n = min(args.n, args.rank_bm25_n)
            r = run_child(
                "_rank_bm25_all", corpus=corpus, n=n, queries=queries[: args.rank_bm25_queries], k=args.k
            )
            note = f"measured at N={n:,}" if n < args.n else ""
            res = Result("rank_bm25", n, r.get("build_s", np.nan), np.nan, r.get("peak_rss_mb", np.nan), np.nan, np.nan,
                         r.get("p50_ms", np.nan), r.get("p95_ms", np.nan), r.get("batch_qps", np.nan), note)  # fmt: skip
            results.append(res)
            if n < args.n:
                f = args.n / n
                results.append(
                    Result("rank_bm25", args.n, res.build_s * f, np.nan, np.nan, np.nan, np.nan, res.p50_ms * f,
                           res.p95_ms * f, res.batch_qps / f, f"extrapolated ×{f:g} from N={n:,} (linear)")
                )  # fmt: skip
        else:
            ap.error(f"unknown system {system!r}")
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    print(f"\nN={args.n:,} passages, ~{args.words} words, vocab {args.vocab:,}, Zipf a={args.zipf_a}, "
          f"{len(queries)} queries, k={args.k}\n")  # fmt: skip
    print(table(results))
    base = next((r for r in results if r.system == "drqa_ng bm25"), None)
    if base is not None:
        print()
        print(ratios(base, [r for r in results if r is not base]))
    if not args.keep:
        corpus.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
