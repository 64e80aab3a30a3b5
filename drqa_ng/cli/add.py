"""`drqa-ng add-docs`: append documents to a data home's doc store and indexes without a rebuild."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``add-docs``."""
    from drqa_ng.cli.docs import FORMAT_CHOICES

    p = sub.add_parser(
        "add-docs",
        help="append documents to a doc store and update its sparse/dense indexes in place",
        description="Append the documents of NEW_CORPUS to the doc store of INDEX_HOME (a folder made by "
        "`drqa-ng quickstart`, read through its config.json) and bring every index listed there up to "
        "date: BM25 statistics and weights are recomputed without re-reading the old corpus, and new "
        "units are encoded into the dense index. The result equals a full rebuild (identical BM25 "
        "arrays; for Flat dense indexes identical vectors and ids). Ids already in the store are "
        "skipped. Use --docs/--index instead of INDEX_HOME for other layouts. Interrupted runs are "
        "finished by running the command again.",
    )
    p.add_argument("home", type=Path, nargs="?", metavar="INDEX_HOME", help="data home with config.json")
    p.add_argument("corpus", type=Path, nargs="+", metavar="NEW_CORPUS", help="files or folders to add")
    p.add_argument("--docs", type=Path, help="doc store to append to (instead of INDEX_HOME)")
    p.add_argument("--index", type=Path, action="append", help="index to update (repeatable; with --docs)")
    p.add_argument("--format", default="auto", choices=FORMAT_CHOICES, help="corpus format (default: sniff)")
    p.set_defaults(func=_add_docs)

    s = sub.add_parser(
        "shard-index",
        help="split a BM25 or Flat dense index into N shard folders searched in parallel",
        description="Write OUT_DIR: N row-range shards of INDEX (each an ordinary index folder with the "
        "full index's weights or vectors) and a manifest. `drqa-ng search OUT_DIR ...` (and --index "
        "OUT_DIR anywhere) searches the shards in parallel and returns exactly the unsharded top-k.",
    )
    s.add_argument("index", type=Path, metavar="INDEX")
    s.add_argument("out", type=Path, metavar="OUT_DIR")
    s.add_argument("--shards", type=int, required=True, help="number of shards")
    s.set_defaults(func=_shard_index)


def _shard_index(args: argparse.Namespace) -> int:
    from indexing.shard import split_index

    ranges = split_index(args.index, args.out, args.shards)
    print(f"wrote {args.out}: {len(ranges)} shards of {', '.join(str(b - a) for a, b in ranges)} units")
    return 0


def _add_docs(args: argparse.Namespace) -> int:
    from drqa_ng.config import read_home_config
    from drqa_ng.errors import InputError, NotFoundError
    from indexing.add_docs import add_documents
    from indexing.ingest import read_corpus

    sources = list(args.corpus)
    vocabulary = articles = None
    if args.docs is not None:
        if args.home is not None:  # with --docs every positional is corpus
            sources.insert(0, args.home)
        docs, indexes = args.docs, tuple(args.index or ())
    elif args.home is not None:
        if args.index:
            raise InputError("--index needs --docs (INDEX_HOME's config.json lists its indexes)")
        cfg = read_home_config(args.home)
        docs, indexes, vocabulary, articles = cfg.docs, cfg.indexes, cfg.vocabulary, cfg.articles
    else:
        raise InputError("give INDEX_HOME or --docs")
    for s in sources:
        if not s.exists():
            raise NotFoundError(f"corpus path not found: {s}")
    report = add_documents(read_corpus(sources, args.format, id_prefix=False), docs, indexes)
    st = report.store
    print(
        f"{docs}: +{st.documents} documents, +{st.paragraphs} paragraphs, +{st.passages} passages "
        f"({st.duplicates} duplicate ids skipped)"
    )
    for u in report.indexes:
        print(f"{u.path} ({u.kind}): {u.units_before} + {u.units_added} units, {u.seconds:.1f} s")
    if vocabulary is not None and st.documents:  # new words must not read as gibberish
        from indexing.vocabulary import build_vocabulary

        print(f"{vocabulary}: {build_vocabulary(docs, vocabulary)} words")
    if articles is not None and st.documents:  # rebuilt: its TF-IDF weights cannot be caught up
        from drqa_ng.retrieval.sparse import SparseManifest
        from indexing.sparse import build_sparse_from_store

        scoring = SparseManifest.load(articles).scoring
        rep = build_sparse_from_store(docs, articles, unit="doc", scoring=scoring, show_progress=False)
        print(f"{articles}: rebuilt, {rep.units} articles")
    return 0
