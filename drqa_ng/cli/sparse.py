"""`drqa-ng build-sparse`: hashed TF-IDF / BM25 index over a doc store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from drqa_ng.types import UNITS


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """``--engine local|ray`` and the Ray options, shared by build-sparse and build-dense."""
    g = p.add_argument_group("scale-out (Ray)")
    g.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (and --threads); ray: shards as Ray tasks, merged here (same index)",
    )
    g.add_argument("--ray-address", default=None, help="join this Ray cluster (default: start a local one)")
    g.add_argument("--ray-cpus", type=int, default=None, help="CPUs of the local Ray cluster (default: all)")
    g.add_argument("--shards", type=int, default=None, help="shard tasks (default: 2 per cluster CPU)")
    g.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="shard outputs, on a file system every node sees (default: beside OUT_DIR); "
        "kept after a failure so a rerun resumes",
    )


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands to the parser."""
    from drqa_ng.cli.options import add_threads_option, hidden_alias

    p = sub.add_parser(
        "build-sparse",
        help="build a hashed n-gram TF-IDF/BM25 index from a doc store",
        description=(
            "Index the units of a doc store with hashed unigrams+bigrams (murmur3) and precomputed "
            "BM25 or DrQA TF-IDF weights. Writes OUT_DIR atomically (a folder of .npy + manifest.json)."
        ),
    )
    p.add_argument("docs", type=Path, metavar="DOCS.sqlite", help="doc store built by `drqa-ng build-docs`")
    p.add_argument("out", type=Path, metavar="OUT_DIR", help="index folder to write (replaced if present)")
    p.add_argument("--unit", choices=UNITS, default="paragraph", help="retrieval unit (default: paragraph)")
    p.add_argument(
        "--scoring", choices=("bm25", "tfidf"), default="bm25", help="weights to store (default: bm25)"
    )
    p.add_argument("--buckets", type=int, default=2**24, help="hash buckets (default: 2**24)")
    p.add_argument("--ngrams", type=int, default=2, choices=(1, 2, 3), help="max n-gram length (default: 2)")
    p.add_argument("--k1", type=float, default=1.5, help="BM25 k1 (default: 1.5)")
    p.add_argument("--b", type=float, default=0.75, help="BM25 b (default: 0.75)")
    p.add_argument("--chunk-size", type=int, default=50_000, help="units counted per chunk (memory bound)")
    add_threads_option(p, "parallel workers (processes) that tokenize/hash chunks (default: 1)", default=1)
    p.add_argument("--no-title", action="store_true", help="do not index unit titles with their text")
    hidden_alias(p, "--no-progress", dest="quiet", action="store_true")
    add_engine_options(p)
    p.set_defaults(func=_build_sparse)


def _build_sparse(args: argparse.Namespace) -> int:
    from drqa_ng.errors import InputError, NotFoundError
    from indexing.sparse import build_sparse_from_store

    if not args.docs.is_file():
        raise NotFoundError(f"doc store not found: {args.docs}")
    if args.buckets < 1 or args.buckets > 2**32:
        raise InputError(f"--buckets must be in [1, 2**32], got {args.buckets}")
    common = dict(
        unit=args.unit,
        scoring=args.scoring,
        buckets=args.buckets,
        ngrams=args.ngrams,
        k1=args.k1,
        b=args.b,
        chunk_size=args.chunk_size,
        include_title=not args.no_title,
    )
    if args.engine == "ray":
        from indexing.sparse_ray import build_sparse_ray

        ray_report = build_sparse_ray(
            args.docs,
            args.out,
            address=args.ray_address,
            num_cpus=args.ray_cpus,
            shards=args.shards,
            work_dir=args.work_dir,
            **common,
        )
        report = ray_report.build
        print(
            f"ray: {ray_report.shards} shards ({ray_report.resumed} resumed) counted in "
            f"{ray_report.count_seconds:.1f}s, merged in {ray_report.merge_seconds:.1f}s"
        )
    else:
        report = build_sparse_from_store(
            args.docs,
            args.out,
            show_progress=not args.quiet,
            workers=args.threads,
            **common,
        )
    print(
        f"built {args.scoring} index {report.path}: {report.units:,} {args.unit} units, "
        f"{report.nnz:,} entries, {report.bytes_on_disk / 2**20:.1f} MiB, {report.seconds:.1f}s"
    )
    return 0
