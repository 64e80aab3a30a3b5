"""`drqa-ng search`: top-k units of an index for one or more queries."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drqa_ng.types import Hit, Passage

log = logging.getLogger(__name__)

SNIPPET_CHARS = 160


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands to the parser."""
    p = sub.add_parser(
        "search",
        help="retrieve the top-k units of an index for queries",
        description=(
            "Search an index folder (sparse; any kind open_retriever knows). Give the index as the first "
            "positional argument or with --index; queries as further arguments and/or --queries-file. "
            "Titles and snippets come from the doc store recorded in the index (or --docs)."
        ),
    )
    p.add_argument(
        "args", nargs="*", metavar="[INDEX_DIR] QUERY", help="index folder (unless --index), queries"
    )
    p.add_argument("--index", action="append", type=Path, default=[], help="index folder (repeatable)")
    p.add_argument("--queries-file", type=Path, help="text file, one query a line")
    p.add_argument("-k", type=int, default=5, help="hits per query (default: 5)")
    p.add_argument(
        "--docs", type=Path, help="doc store for titles/snippets (default: the one in the manifest)"
    )
    p.add_argument(
        "--json", action="store_true", help="print a JSON list of {query, hits} instead of a table"
    )
    # hybrid options (dense area, H3): several --index are fused by drqa_ng.retrieval.fusion
    p.add_argument("--fusion", choices=["rrf", "interp"], default="rrf", help="fusion of several --index")
    p.add_argument("--weight", type=float, default=None, help="interp: weight of the last --index (0..1)")
    p.add_argument("--depth", type=int, default=100, help="hits fetched from each index before fusion")
    p.set_defaults(func=_search)


def _read_queries(path: Path) -> list[str]:
    from drqa_ng.errors import DataFormatError, NotFoundError

    if not path.is_file():
        raise NotFoundError(f"queries file not found: {path}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{path} is not UTF-8 text: {e}") from e
    return [line.strip() for line in lines if line.strip()]


def _open_docs(args: argparse.Namespace, manifest: dict[str, Any]) -> Any:
    """The doc store to decorate hits with, or None (then only ids are printed)."""
    from drqa_ng.errors import DrqaError, NotFoundError

    if args.docs is not None:
        if not args.docs.is_file():
            raise NotFoundError(f"doc store not found: {args.docs}")
        path = args.docs
    elif manifest.get("docs"):
        path = Path(manifest["docs"])
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
    from drqa_ng.index_io import read_manifest
    from drqa_ng.retrieval.loader import open_retriever

    positional: list[str] = list(args.args)
    indexes: list[Path] = list(args.index)
    if not indexes:
        if not positional:
            raise InputError("give an index folder (positional or --index)")
        indexes = [Path(positional.pop(0))]
    queries = positional + (_read_queries(args.queries_file) if args.queries_file else [])
    if not queries:
        raise InputError("no query given")
    if args.k < 1:
        raise InputError(f"-k must be >= 1, got {args.k}")
    retriever = open_retriever(indexes[0])
    if len(indexes) > 1:  # hybrid (H3)
        from drqa_ng.retrieval.fusion import HybridRetriever

        retriever = HybridRetriever(
            [retriever, *(open_retriever(p) for p in indexes[1:])],
            method=args.fusion,
            weight=args.weight,
            depth=args.depth,
        )
    hits = retriever.search(queries, args.k)
    docs = _open_docs(args, read_manifest(indexes[0]))
    found: list[list[tuple[Hit, Passage | None]]] = []
    for qhits in hits:
        passages = docs.get_passages([h.id for h in qhits]) if docs else [None] * len(qhits)
        found.append(list(zip(qhits, passages, strict=True)))
    if args.json:
        print(
            json.dumps(
                [_json_result(q, f) for q, f in zip(queries, found, strict=True)],
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    for n, (query, pairs) in enumerate(zip(queries, found, strict=True)):
        if len(queries) > 1:
            print(("\n" if n else "") + f"# {query}")
        if not pairs:
            print("(no hits)")
        for rank, (h, p) in enumerate(pairs, 1):
            line = f"{rank}\t{h.score:.4f}\t{h.id}"
            if p is not None:
                line += f"\t{p.title}\t{_snippet(p.text)}"
            print(line)
    return 0


def _json_result(query: str, pairs: list[tuple[Hit, Passage | None]]) -> dict[str, Any]:
    hits = []
    for rank, (h, p) in enumerate(pairs, 1):
        row: dict[str, Any] = {"rank": rank, "score": h.score, "id": h.id, "doc_id": h.doc_id}
        if p is not None:
            row |= {"title": p.title, "text": p.text}
        hits.append(row)
    return {"query": query, "hits": hits}
