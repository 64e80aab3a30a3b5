"""`drqa-ng search`: top-k units of an index for one or more queries."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drqa_ng.protocols import PassageStore

log = logging.getLogger(__name__)

SNIPPET_CHARS = 160


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands to the parser."""
    from drqa_ng.cli.options import add_home_option
    from drqa_ng.config import DEFAULT_K

    p = sub.add_parser(
        "search",
        help="retrieve the top-k units of an index for queries",
        description=(
            "Search an index folder (any kind open_retriever knows). Give the index as the first "
            "positional argument or with --index; without either, the indexes of the data home built by "
            "`drqa-ng quickstart` are searched (fused like `ask` does). Queries are further arguments "
            "and/or --queries-file. Titles and snippets come from the doc store recorded in the index "
            "(or --docs)."
        ),
    )
    p.add_argument(
        "args",
        nargs="*",
        metavar="[INDEX_DIR] QUERY",
        help="index folder (unless --index or the data home), then queries (quote each one)",
    )
    p.add_argument("--index", action="append", type=Path, default=[], help="index folder (repeatable)")
    add_home_option(p)
    p.add_argument(
        "--queries-file",
        type=Path,
        help="text file, one query a line; a line 'QID<TAB>QUERY' (TREC topics TSV) names its query id",
    )
    p.add_argument("-k", type=int, default=DEFAULT_K, help=f"hits per query (default: {DEFAULT_K})")
    p.add_argument(
        "--docs", type=Path, help="doc store for titles/snippets (default: the one in the manifest)"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object {query, hits} per query (JSON Lines, as ask --json) instead of a table",
    )
    p.add_argument(
        "--trec-run",
        type=Path,
        metavar="FILE",
        help="also write the hits as a TREC run file (qid Q0 docid rank score tag) for trec_eval",
    )
    p.add_argument("--trec-tag", default="drqa-ng", help="run tag in the TREC run file (default: drqa-ng)")
    # hybrid options (dense area, H3): several --index are fused by drqa_ng.retrieval.fusion
    p.add_argument(
        "--fusion", choices=["rrf", "interp"], default=None, help="fusion of several --index (default rrf)"
    )
    p.add_argument("--weight", type=float, default=None, help="interp: weight of the last --index (0..1)")
    p.add_argument("--depth", type=int, default=100, help="hits fetched from each index before fusion")
    p.set_defaults(func=_search)


def _read_queries(path: Path) -> list[tuple[str | None, str]]:
    """(query id or None, query) per non-blank line; ``QID<TAB>QUERY`` lines carry their id."""
    from drqa_ng.errors import DataFormatError, NotFoundError

    if not path.is_file():
        raise NotFoundError(f"queries file not found: {path}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{path} is not UTF-8 text: {e}") from e
    out: list[tuple[str | None, str]] = []
    for line in lines:
        qid, tab, query = line.partition("\t")
        if tab and qid.strip() and query.strip():
            out.append((qid.strip(), query.strip()))
        elif line.strip():
            out.append((None, line.strip()))
    return out


def _resolve_indexes(args: argparse.Namespace, positional: list[str]) -> tuple[list[Path], Path | None]:
    """Index folders to search and the doc store to show titles from (None: the index's own).

    ``--index`` wins; else a first positional argument that is a folder; else the data home.
    """
    from drqa_ng.config import default_home, read_home_config
    from drqa_ng.errors import NotFoundError

    if args.index:
        return list(args.index), None
    if positional and Path(positional[0]).is_dir():
        return [Path(positional.pop(0))], None
    try:
        cfg = read_home_config(args.home or default_home())
    except NotFoundError as e:
        if args.home is None and len(positional) > 1:
            raise NotFoundError(f"{positional[0]} is not an index folder, and {e}") from e
        raise
    if args.fusion is None:
        args.fusion = cfg.fusion
        if args.weight is None and cfg.fusion == "interp":
            args.weight = cfg.interp_weight
    args.articles = cfg.articles  # the home's document-aware ranking, as ask and serve use it
    return list(cfg.indexes), cfg.docs


def _open_docs(args: argparse.Namespace, index_docs: Path | None) -> PassageStore | None:
    """The doc store to decorate hits with, or None (then only ids are printed)."""
    from drqa_ng.errors import DrqaError, NotFoundError

    if args.docs is not None:
        if not args.docs.is_file():
            raise NotFoundError(f"doc store not found: {args.docs}")
        path = args.docs
    elif index_docs is not None:
        path = index_docs
    else:
        return None
    try:
        from drqa_ng.store.docstore import DocStore

        return DocStore.open(path)
    except (ImportError, DrqaError) as e:
        if args.docs is not None:
            raise
        log.warning("doc store %s unavailable (%s); printing ids only", path, e)
        return None


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"


def _search(args: argparse.Namespace) -> int:
    from drqa_ng.errors import InputError
    from drqa_ng.pipeline import lookup_hits
    from drqa_ng.presentation import hits_dict
    from drqa_ng.retrieval.loader import index_docs, open_retriever

    positional: list[str] = list(args.args)
    if not args.index and not positional and not args.queries_file:
        raise InputError('no query given: drqa-ng search [INDEX_DIR] "your query"')
    indexes, home_docs = _resolve_indexes(args, positional)
    if args.docs is None and home_docs is not None:
        args.docs = home_docs
    numbered: list[tuple[str | None, str]] = [(None, q) for q in positional]
    numbered += _read_queries(args.queries_file) if args.queries_file else []
    queries = [q for _, q in numbered]
    if not queries:
        raise InputError("no query given")
    if args.k < 1:
        raise InputError(f"-k must be >= 1, got {args.k}")
    qids = [qid or str(i) for i, (qid, _) in enumerate(numbered, 1)]
    if args.trec_run is not None:
        from drqa_ng.evaluation.trec import check_trec_field

        check_trec_field(args.trec_tag, "--trec-tag")
        for qid in qids:
            check_trec_field(qid, "query id")
    retriever = open_retriever(indexes[0])
    if len(indexes) > 1:  # hybrid (H3)
        from drqa_ng.retrieval.fusion import HybridRetriever

        retriever = HybridRetriever(
            [retriever, *(open_retriever(p) for p in indexes[1:])],
            method=args.fusion or "rrf",
            weight=args.weight,
            depth=args.depth,
        )
    store = _open_docs(args, index_docs(indexes[0]))
    articles = getattr(args, "articles", None)
    if articles is not None and store is not None:
        from drqa_ng.retrieval.articles import ArticleRanker
        from drqa_ng.store.docstore import DocStore

        if isinstance(store, DocStore):
            retriever = ArticleRanker(retriever, open_retriever(articles), store)
    hits = retriever.search(queries, args.k)
    if args.trec_run is not None:
        from drqa_ng.evaluation.trec import write_trec_run

        write_trec_run(args.trec_run, qids, hits, args.trec_tag)
    found = lookup_hits(hits, store, retriever.unit)
    if args.json:
        for q, f in zip(queries, found, strict=True):
            print(json.dumps(hits_dict(q, f), ensure_ascii=False))
        return 0
    for n, (query, shown) in enumerate(zip(queries, found, strict=True)):
        if len(queries) > 1:
            print(("\n" if n else "") + f"# {query}")
        if not shown:
            print("(no hits)")
        for h in shown:
            line = f"{h.rank}\t{h.hit.score:.4f}\t{h.hit.id}"
            if h.passage is not None:
                line += f"\t{h.passage.title}\t{_snippet(h.passage.text)}"
            print(line)
    return 0
