"""`drqa-ng build-sparse`: hashed TF-IDF / BM25 index over a doc store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from drqa_ng.types import UNITS


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
    p.set_defaults(func=_build_sparse)


def _build_sparse(args: argparse.Namespace) -> int:
    from drqa_ng.errors import InputError, NotFoundError
    from indexing.sparse import build_sparse_from_store

    if not args.docs.is_file():
        raise NotFoundError(f"doc store not found: {args.docs}")
    if args.buckets < 1 or args.buckets > 2**32:
        raise InputError(f"--buckets must be in [1, 2**32], got {args.buckets}")
    report = build_sparse_from_store(
        args.docs,
        args.out,
        unit=args.unit,
        scoring=args.scoring,
        buckets=args.buckets,
        ngrams=args.ngrams,
        k1=args.k1,
        b=args.b,
        show_progress=not args.quiet,
        chunk_size=args.chunk_size,
        include_title=not args.no_title,
        workers=args.threads,
    )
    print(
        f"built {args.scoring} index {report.path}: {report.units:,} {args.unit} units, "
        f"{report.nnz:,} entries, {report.bytes_on_disk / 2**20:.1f} MiB, {report.seconds:.1f}s"
    )
    return 0
