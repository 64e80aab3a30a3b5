"""Options shared by several subcommands, so each is spelled, defaulted and documented once."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drqa_ng.errors import InputError

if TYPE_CHECKING:
    from drqa_ng.pipeline import PipelineSettings, QAPipeline


def hidden_alias(p: argparse._ActionsContainer, *flags: str, dest: str, **kw: Any) -> None:
    """A renamed flag that keeps working for old scripts, hidden from ``--help``.

    Its default is SUPPRESS so only the new flag's default reaches the namespace.
    """
    p.add_argument(*flags, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kw)


def add_home_option(p: argparse._ActionsContainer) -> None:
    """``--home DIR``: the data home written by ``quickstart``."""
    p.add_argument(
        "--home",
        type=Path,
        help="data home written by quickstart (default: $DRQA_NG_HOME, else $XDG_DATA_HOME/drqa-ng, "
        "i.e. ~/.local/share/drqa-ng)",
    )


def add_threads_option(p: argparse._ActionsContainer, help: str, default: int | None = None) -> None:
    """``--threads N`` (the old ``--workers`` spelling is a hidden alias)."""
    p.add_argument("--threads", type=int, default=default, help=help)
    hidden_alias(p, "--workers", dest="threads", type=int)


def check_quoted(questions: Sequence[str]) -> None:
    """Reject ``drqa-ng ask Who wrote Hamlet``: several arguments of which one is a single word.

    Several quoted questions (``ask "Who wrote Hamlet?" "When was it written?"``) and one unquoted
    word (``ask Hamlet``) stay valid.
    """
    if len(questions) > 1 and any(len(q.split()) < 2 for q in questions):
        joined = " ".join(questions)
        raise InputError(
            f"{len(questions)} arguments read as {len(questions)} questions; quote a question "
            f'that has spaces: "{joined}"'
        )


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    """Options naming the indexes, doc store and reader (shared by ask, eval and serve)."""
    from drqa_ng.config import DEFAULT_K

    g = p.add_argument_group("pipeline (defaults: the data home's config.json)")
    add_home_option(g)
    g.add_argument(
        "--index", type=Path, action="append", help="index folder; repeat to fuse several (hybrid)"
    )
    g.add_argument("--docs", type=Path, help="doc store (.sqlite) the index was built from")
    g.add_argument(
        "--reader",
        type=Path,
        metavar="PATH_OR_NAME",
        help="reader (default: the shipped int8 weights): a folder from train-reader/export-reader, or any "
        "Hugging Face extractive-QA checkpoint, as a save_pretrained folder or a hub name such as "
        "deepset/roberta-base-squad2 (downloaded once when not in the local HF cache)",
    )
    g.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "torch", "onnx"),
        help="auto: by the reader's kind (a HF checkpoint runs on torch); onnx on a HF checkpoint exports it "
        "once to int8 ONNX (cached under $XDG_CACHE_HOME/drqa_ng/readers) and starts without torch after",
    )
    hidden_alias(g, "--reader-backend", dest="backend", choices=("auto", "torch", "onnx"))
    g.add_argument("--fusion", choices=("rrf", "interp"), help="how several indexes are fused (default rrf)")
    g.add_argument(
        "-k", type=int, default=DEFAULT_K, help=f"retrieved units per question (default {DEFAULT_K})"
    )
    hidden_alias(g, "--n-docs", dest="k", type=int)
    g.add_argument(
        "--weight",
        type=float,
        help="retriever weight w in score = reader + w·norm(retriever) (default: config.json, else the tuned default 1.0)",
    )
    g.add_argument(
        "--max-passages", type=int, default=64, help="cap on passages read per question (default 64)"
    )
    add_threads_option(g, "CPU threads for the reader (default: the runtime's)")
    g.add_argument(
        "--min-confidence",
        type=float,
        help="say 'no confident answer' below this calibrated confidence (default: the threshold stored "
        "with the reader's calibration.json; 0 never abstains)",
    )
    g.add_argument(
        "--no-calibration",
        dest="calibrated",
        action="store_false",
        help="ignore the reader's calibration.json (confidence = raw aggregated span probability)",
    )


def pipeline_settings(args: argparse.Namespace) -> PipelineSettings:
    """Settings from flags, falling back to ``<home>/config.json`` for whatever is not given."""
    from drqa_ng.config import default_home
    from drqa_ng.errors import InputError
    from drqa_ng.pipeline import DEFAULT_WEIGHT, PipelineSettings

    indexes, docs, reader = args.index, args.docs, args.reader
    weight, fusion = args.weight, args.fusion
    fusion_weight, home, vocabulary, articles = 0.5, None, None, None
    if not indexes or docs is None:
        from drqa_ng.config import read_home_config

        if args.home is None and (indexes or docs is not None):
            raise InputError("give both --index and --docs (or neither, to use the data home)")
        cfg = read_home_config(args.home or default_home())
        indexes = indexes or list(cfg.indexes)
        docs = docs or cfg.docs
        reader = reader or cfg.reader
        if not args.index:  # the word list and article index describe the home's corpus only
            vocabulary, articles = cfg.vocabulary, cfg.articles
        weight = weight if weight is not None else cfg.weight
        if not args.index and fusion is None:  # retrieval follows the home (and its upgrades)
            fusion, fusion_weight, home = cfg.fusion, cfg.interp_weight, cfg.home
        fusion = fusion or cfg.fusion
    return PipelineSettings(
        indexes=tuple(indexes),
        docs=docs,
        reader=reader,
        reader_backend=args.backend,
        fusion=fusion or "rrf",
        fusion_weight=fusion_weight,
        home=home,
        vocabulary=vocabulary,
        articles=articles,
        n_docs=args.k,
        weight=DEFAULT_WEIGHT if weight is None else weight,
        max_passages=args.max_passages,
        threads=args.threads,
        min_confidence=args.min_confidence,
        calibrated=args.calibrated,
    )


def load_pipeline(args: argparse.Namespace) -> QAPipeline:
    from drqa_ng.pipeline import QAPipeline

    return QAPipeline.from_settings(pipeline_settings(args))
