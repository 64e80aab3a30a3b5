"""`drqa-ng quickstart`: download or ingest a corpus and build doc store + indexes into the data home.

The handler is a few lines over ``indexing.quickstart.build_home``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any


def quickstart_dense_plan(dense: bool | None, background: bool | None) -> tuple[bool, bool, bool]:
    """(MiniLM in the foreground, static index, MiniLM in the background) for quickstart's flags.

    ``--no-dense``: BM25 only. ``--dense``: MiniLM now. Neither: MiniLM now on a CUDA GPU; on a CPU the
    static index now and MiniLM in the background (unless ``--no-background``).
    """
    if dense is not None:
        return dense, False, False
    import torch

    if torch.cuda.is_available():
        return True, False, False
    return False, True, background is not False


def _quickstart(args: argparse.Namespace) -> int:
    from drqa_ng.config import default_home
    from indexing.quickstart import check_inputs

    check_inputs(args.corpus, args.dense_limit)  # a typo fails in milliseconds, before anything loads
    from indexing.background import start_background_dense as start_background
    from indexing.background import stop_background_dense
    from indexing.quickstart import build_home, default_url, download, report_dict

    home = (args.home or default_home()).resolve()
    corpus = args.corpus
    if not corpus:
        url = args.url or default_url()
        name = url.rstrip("/").rsplit("/", 1)[-1] or "corpus.xml.bz2"
        print(f"downloading {url}", file=sys.stderr)
        corpus = [download(url, home / "downloads" / name, progress=not args.quiet)]
    dense, static, background = quickstart_dense_plan(args.dense, args.background)
    if stop_background_dense(home):  # it reads the doc store this run rebuilds; restarted below
        print("stopped the running background dense build", file=sys.stderr)
    from tqdm.contrib.logging import logging_redirect_tqdm

    def header(i: int, n: int, name: str) -> None:
        if not args.quiet:
            print(f"[{i}/{n}] {name}", file=sys.stderr, flush=True)

    # The per-document skip warnings are summarised as counts below (-v still lists them); other
    # warnings print above the progress bar instead of through it.
    skips = logging.getLogger("indexing.docstore")
    level = skips.level
    if not args.verbose:
        skips.setLevel(logging.ERROR)
    try:
        with logging_redirect_tqdm():
            report = build_home(
                corpus,
                home,
                unit=args.unit,
                dense=dense,
                dense_limit=args.dense_limit,
                encoder=args.encoder,
                static=static,
                static_model=args.static_model,
                progress=not args.quiet,
                on_step=header,
            )
    finally:
        skips.setLevel(level)
    pid = start_background(report.home, args.encoder) if background else None
    if args.json:
        print(json.dumps({**report_dict(report), "background_pid": pid}, indent=2))
        return 0
    print(f"built {report.home}: {report.documents} documents, {report.units} {args.unit} units", end="")
    if static:
        print(f", {report.static_units} static vectors", end="")
    print(f", {report.dense_units} dense vectors" if dense else "" if static else " (no dense index)")
    if pid is not None:
        print(
            f"  MiniLM dense index: building in the background (pid {pid}, low priority); ask/serve switch "
            f"to it when it is complete. Progress: drqa-ng status{'' if args.home is None else f' --home {report.home}'}"
        )
    print(
        f"  skipped {report.duplicates} duplicate-id and {report.empty} empty documents"
        + ("" if args.verbose or not report.duplicates + report.empty else " (-v lists them)")
    )
    for stage, seconds in report.seconds:
        print(f"  {stage:7s} {seconds:8.1f} s")
    at = "" if args.home is None else f" --home {report.home}"
    print(
        f'config: {report.config}\nnow try: drqa-ng ask{at} "your question"  (or: drqa-ng search{at} "words")'
    )
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``quickstart``."""
    from drqa_ng.cli.options import add_home_option

    q = sub.add_parser(
        "quickstart",
        help="download/ingest a corpus and build doc store + indexes into the data home",
        description="Build everything `drqa-ng ask` needs into one folder (--home, default $DRQA_NG_HOME or "
        "the per-user ~/.local/share/drqa-ng) and write its config.json. Without --corpus, downloads the latest Simple English "
        "Wikipedia dump (override with --url or $DRQA_NG_WIKI_URL; partial downloads resume). "
        "On a CPU, it builds BM25 and a static-vector index (the shipped tuned Model2Vec model: under a minute) "
        "and answers at once, and builds the MiniLM dense index (~45 min for Simple Wikipedia on 2 cores) "
        "in a detached low-priority process that ask/serve switch to when it is complete (`drqa-ng status` "
        "shows its progress; --no-background skips it). With a CUDA GPU the MiniLM index is built in the "
        "foreground. --dense forces a foreground MiniLM build, --no-dense builds BM25 only, --dense-limit N "
        "encodes only the first N units.",
    )
    q.add_argument(
        "--corpus", type=Path, action="append", help="dump (.xml.bz2), WikiExtractor folder, JSONL, SQuAD"
    )
    add_home_option(q)
    q.add_argument("--url", help="dump URL to download when no --corpus is given")
    q.add_argument(
        "--unit", default="paragraph", choices=("doc", "paragraph", "passage"), help="retrieval unit"
    )
    q.add_argument("--dense", action=argparse.BooleanOptionalAction, default=None, help="build a dense index")
    q.add_argument("--dense-limit", type=int, help="encode at most N units for the dense index")
    q.add_argument(
        "--background",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="build the MiniLM dense index in a detached low-priority process (default: on a CPU)",
    )
    q.add_argument(
        "--static-model",
        metavar="DIR",
        help="static (Model2Vec) model folder or name (default: tuned-static, shipped; default-static: "
        "distilled once from the shipped MiniLM and cached)",
    )
    q.add_argument("--encoder", help="dense encoder folder (default: the shipped MiniLM)")
    q.add_argument("--json", action="store_true", help="print the build report as JSON")
    q.set_defaults(func=_quickstart)
