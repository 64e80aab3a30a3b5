"""`drqa-ng` subcommands for doc stores: ``build-docs``, ``docs-info``, ``get-doc``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from drqa_ng.cli.options import hidden_alias
from drqa_ng.errors import InputError, NotFoundError

FORMAT_CHOICES = ("auto", "jsonl", "wikiextractor", "mediawiki", "squad")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands to the parser."""
    p = sub.add_parser(
        "build-docs",
        help="build a SQLite doc store from corpus files/folders",
        description="Read documents from SRC files or folders (JSON lines, WikiExtractor output, "
        "MediaWiki XML dumps, SQuAD JSON; plain, .gz or .bz2), split them into paragraphs and "
        "word-window passages, and write the doc store OUT (replaced atomically).",
    )
    p.add_argument("paths", nargs="+", metavar="SRC", help="corpus files or folders, then OUT.sqlite last")
    p.add_argument(
        "--format", default="auto", choices=FORMAT_CHOICES, help="corpus format (default: sniff each file)"
    )
    p.add_argument(
        "--passage-words", type=int, default=100, help="words per passage; 0 = no passages (default 100)"
    )
    p.add_argument(
        "--min-paragraph-chars",
        type=int,
        default=None,
        help="merge paragraphs shorter than this into the next one (default 30; 0 = never)",
    )
    p.add_argument(
        "--id-prefix",
        choices=("auto", "always", "never"),
        default="auto",
        help='prefix doc ids with their source name ("simplewiki-2018:12"); auto = when several SRC are given',
    )
    hidden_alias(p, "--no-progress", dest="quiet", action="store_true")
    p.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="skip files that cannot be read (truncated .bz2/.gz, not UTF-8, malformed) with a warning "
        "and a count, instead of stopping the build",
    )
    p.set_defaults(func=_build_docs)

    p = sub.add_parser(
        "docs-info", help="show what a doc store holds", description="Print a doc store's summary."
    )
    p.add_argument("store", metavar="DOCS.sqlite")
    p.set_defaults(func=_docs_info)

    p = sub.add_parser(
        "get-doc",
        help="print a document or unit from a doc store",
        description="Print the text of a document (by id or, with --title, by title) or of a unit id "
        "such as 12#p3 (paragraph) or 12#w0 (passage).",
    )
    p.add_argument("store", metavar="DOCS.sqlite")
    p.add_argument("key", metavar="ID", help="document or unit id (a title with --title)")
    p.add_argument("--title", action="store_true", help="look ID up as a title (case-insensitive)")
    p.set_defaults(func=_get_doc)


def _build_docs(args: argparse.Namespace) -> int:
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from indexing.docstore import DEFAULT_MIN_PARAGRAPH_CHARS, build_docstore
    from indexing.ingest import read_corpus
    from indexing.ingest.corpus import CorpusMeter

    if len(args.paths) < 2:
        raise InputError("need at least one SRC and the OUT.sqlite path")
    *srcs, out_arg = args.paths
    sources = [Path(s) for s in srcs]
    out = Path(out_arg)
    for s in sources:
        if not s.exists():
            raise NotFoundError(f"corpus path not found: {s}")
    if out.exists() and out.is_file():
        _refuse_overwriting_non_store(out)
    prefix = args.id_prefix == "always" or (args.id_prefix == "auto" and len(sources) > 1)
    min_chars = DEFAULT_MIN_PARAGRAPH_CHARS if args.min_paragraph_chars is None else args.min_paragraph_chars
    bad: list[str] = []

    def skip(file: Path, error: Exception) -> None:
        bad.append(str(file))
        tqdm.write(f"drqa-ng build-docs: skipping bad file: {error}", file=sys.stderr)  # above the bar

    meter = CorpusMeter()  # the bar's total (input bytes) and position, filled by read_corpus
    # warnings print above the progress bar, not through it (no bar with -q: logging as configured)
    with logging_redirect_tqdm() if not args.quiet else contextlib.nullcontext():
        report = build_docstore(
            read_corpus(
                sources,
                args.format,
                id_prefix=prefix,
                on_bad_file=skip if args.skip_bad_files else None,
                meter=meter,
            ),
            out,
            passage_words=args.passage_words,
            min_paragraph_chars=min_chars,
            show_progress=not args.quiet,
            sources=[str(s) for s in sources],
            meter=meter,
        )
    print(f"wrote {report.path}")
    print(f"documents:  {report.documents}")
    print(f"paragraphs: {report.paragraphs}")
    print(f"passages:   {report.passages}")
    print(f"duplicates skipped: {report.duplicates}")
    print(f"empty skipped:      {report.empty}")
    if args.skip_bad_files:
        print(f"bad files skipped:  {len(bad)}")
    print(f"seconds:    {report.seconds:.1f}")
    print(f"corpus hash: {report.corpus_hash}")
    return 0


def _refuse_overwriting_non_store(out: Path) -> None:
    """An existing OUT must be a doc store: catches ``build-docs a.jsonl b.jsonl`` (missing OUT)."""
    with open(out, "rb") as f:
        magic = f.read(16)
    if magic != b"SQLite format 3\x00":
        raise InputError(f"{out} exists and is not a doc store; refusing to overwrite it (is OUT missing?)")


def _docs_info(args: argparse.Namespace) -> int:
    from drqa_ng.store.docstore import DocStore

    with DocStore.open(args.store) as store:
        info = store.info()
    print(f"path:        {info.path}")
    print(f"format:      {info.format_version}")
    print(f"documents:   {info.documents}")
    print(f"paragraphs:  {info.paragraphs} (min {info.min_paragraph_chars} chars)")
    print(f"passages:    {info.passages} ({info.passage_words} words each)")
    print(f"corpus hash: {info.corpus_hash}")
    print(f"created:     {info.created}")
    for s in info.sources:
        print(f"source:      {s}")
    return 0


def _get_doc(args: argparse.Namespace) -> int:
    from drqa_ng.store.docstore import DocStore

    with DocStore.open(args.store) as store:
        if args.title:
            doc = store.find_title(args.key)
            if doc is None:
                raise NotFoundError(f"no document titled {args.key!r} in {args.store}")
            print(f"{doc.title} [{doc.id}]\n")
            print(doc.text)
            return 0
        unit = store.get_passages([args.key])[0]
    if unit is None:
        raise NotFoundError(f"no document or unit {args.key!r} in {args.store}")
    print(f"{unit.title} [{unit.id}]\n")
    print(unit.text)
    return 0
