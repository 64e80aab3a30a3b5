"""`drqa-ng search`: top-k units of an index for one or more queries."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drqa_ng.cli.ask import SNIPPET_CHARS, flat_head

if TYPE_CHECKING:
    from drqa_ng.pipeline import PipelineSettings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands to the parser."""
    from drqa_ng.cli.options import add_home_option, hidden_alias
    from drqa_ng.request import DEFAULT_K

    p = sub.add_parser(
        "search",
        help="retrieve the top-k units of an index for queries",
        description=(
            "Search an index folder (any kind drqa_ng.indexes opens). Give the index as the first "
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
    p.add_argument(
        "--fusion-weight", type=float, default=None, help="interp: weight of the last --index (0..1)"
    )
    hidden_alias(p, "--weight", dest="fusion_weight", type=float)
    p.add_argument(
        "--fusion-depth",
        type=int,
        default=100,
        help="hits fetched from each index before fusion (default 100)",
    )
    hidden_alias(p, "--depth", dest="fusion_depth", type=int)
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


def _settings(args: argparse.Namespace, positional: list[str]) -> PipelineSettings:
    """What to search: ``--index`` wins; else a first positional argument that is a folder; else the
    data home (``options.source_settings``, as ask/eval/serve resolve it)."""
    from dataclasses import replace

    from drqa_ng.cli.options import source_settings
    from drqa_ng.errors import NotFoundError
    from drqa_ng.index_io import index_present

    if args.docs is not None and not args.docs.is_file():
        raise NotFoundError(f"doc store not found: {args.docs}")
    # index_present runs the swap recovery that opening with --index runs, so both forms agree.
    if not args.index and positional and index_present(Path(positional[0])):
        args.index = [Path(positional.pop(0))]
    try:
        base = source_settings(args, docs_optional=True)
    except NotFoundError as e:
        if not args.index and args.home is None and len(positional) > 1:
            raise NotFoundError(f"{positional[0]} is not an index folder, and {e}") from e
        raise
    return replace(base, fusion_depth=args.fusion_depth)


def _search(args: argparse.Namespace) -> int:
    from drqa_ng.cli.options import checked_k
    from drqa_ng.errors import InputError
    from drqa_ng.pipeline import QAPipeline
    from drqa_ng.presentation import hits_dict
    from drqa_ng.request import check_request

    positional: list[str] = list(args.args)
    if not args.index and not positional and not args.queries_file:
        raise InputError('no query given: drqa-ng search [INDEX_DIR] "your query"')
    settings = _settings(args, positional)
    numbered: list[tuple[str | None, str]] = [(None, q) for q in positional]
    numbered += _read_queries(args.queries_file) if args.queries_file else []
    if not numbered:
        raise InputError("no query given")
    k = None if args.k is None else checked_k(args)  # above the maximum: capped, with a message
    request = check_request([q for _, q in numbered], k=k, top_n=None)
    queries = request.questions
    qids = [qid or str(i) for i, (qid, _) in enumerate(numbered, 1)]
    if args.trec_run is not None:
        from drqa_ng.evaluation.trec import check_trec_field

        check_trec_field(args.trec_tag, "--trec-tag")
        for qid in qids:
            check_trec_field(qid, "query id")
    found = QAPipeline.for_search(settings).find(request, keep_missing=True)
    if args.trec_run is not None:
        from drqa_ng.evaluation.trec import write_trec_run

        write_trec_run(args.trec_run, qids, [[h.hit for h in hs] for hs in found], args.trec_tag)
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
                line += f"\t{h.passage.title}\t{flat_head(h.passage.text, SNIPPET_CHARS)}"
            print(line)
    return 0
