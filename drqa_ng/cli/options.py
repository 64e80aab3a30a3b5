"""Options shared by several subcommands, so each is spelled, defaulted and documented once."""

from __future__ import annotations

import argparse
import sys
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
    from drqa_ng.request import DEFAULT_K

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
        "-k",
        type=int,
        default=None,
        help=f"retrieved units (paragraphs, passages or documents) read per question (default {DEFAULT_K})",
    )
    hidden_alias(g, "--n-docs", dest="k", type=int)
    g.add_argument(
        "--answer-weight",
        type=float,
        help="retriever weight w in an answer's score = reader + w·norm(retriever) (default: config.json, "
        "else the tuned default 1.0)",
    )
    hidden_alias(g, "--weight", dest="answer_weight", type=float)
    g.add_argument(
        "--fusion-weight",
        type=float,
        help="interp fusion: weight of the last index (0..1; default: config.json, else 0.5)",
    )
    g.add_argument(
        "--evidence-order",
        choices=("reader", "retriever"),
        default="reader",
        help="order of the passages shown with the answers: reader (default: the reader's best span in "
        "each + 12 x the retriever's norm, docs/retrieval.md 2d) or retriever (its order); answers are the same",
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
    g.add_argument(
        "--overlap",
        choices=("auto", "on", "off"),
        default="auto",
        help="prepare the next batch (retrieve, tokenise) while the reader reads this one; same answers. "
        "auto (default): on only when --threads leaves a CPU core free (on 2 cores with the reader on both "
        "it was slower); on: e.g. for a GPU reader",
    )
    g.add_argument(
        "--no-overlap", dest="overlap", action="store_const", const="off", help="same as --overlap off"
    )


def checked_k(args: argparse.Namespace) -> int:
    """``args.k`` checked for the CLI: below 1 is an InputError naming ``-k``; above ``MAX_K`` (the HTTP
    maximum) it is capped, and stderr says so (reading or printing a whole corpus is never meant)."""
    from drqa_ng.request import MAX_K

    k: int = args.k
    if k < 1:
        raise InputError(f"-k must be >= 1, got {k}")
    if k > MAX_K:
        command = getattr(args, "command", None) or "ask"
        print(f"drqa-ng {command}: -k {k} is above the maximum {MAX_K}; using {MAX_K}", file=sys.stderr)
        return MAX_K
    return k


def source_settings(args: argparse.Namespace, *, docs_optional: bool = False) -> PipelineSettings:
    """Indexes, doc store, reader, answer weight and fusion from the flags, falling back to
    ``<home>/config.json`` (the data home) for whatever is not given; shared by ask, eval, serve and
    search (``docs_optional``: ``--index`` alone is enough, the doc store is then the index's own).

    Retrieval follows the home (and its background upgrades) when neither ``--index`` nor
    ``--fusion`` is given.
    """
    from dataclasses import replace

    from drqa_ng.config import default_home
    from drqa_ng.errors import InputError
    from drqa_ng.pipeline import DEFAULT_ANSWER_WEIGHT, PipelineSettings

    indexes, docs, reader = tuple(args.index or ()), args.docs, getattr(args, "reader", None)
    weight, fusion = getattr(args, "answer_weight", None), args.fusion
    fusion_weight: float | None = getattr(args, "fusion_weight", None)
    if indexes and (docs is not None or docs_optional):
        return PipelineSettings(
            indexes=indexes,
            docs=docs,
            reader=reader,
            fusion=fusion or "rrf",
            fusion_weight=fusion_weight,
            answer_weight=DEFAULT_ANSWER_WEIGHT if weight is None else weight,
        )
    if args.home is None and (indexes or docs is not None):
        raise InputError("give both --index and --docs (or neither, to use the data home)")
    home = PipelineSettings.for_home(args.home or default_home())
    follow = not indexes and fusion is None  # retrieval follows the home (and its upgrades)
    return replace(
        home,
        indexes=indexes or home.indexes,
        docs=docs or home.docs,
        reader=reader or home.reader,
        fusion=home.fusion if follow else (fusion or home.fusion),
        fusion_weight=home.fusion_weight if follow and fusion_weight is None else fusion_weight,
        home=home.home if follow else None,
        # the word list and article index describe the home's corpus only
        vocabulary=None if indexes else home.vocabulary,
        articles=None if indexes else home.articles,
        answer_weight=home.answer_weight if weight is None else weight,
    )


def pipeline_settings(args: argparse.Namespace) -> PipelineSettings:
    """Settings from flags, falling back to ``<home>/config.json`` for whatever is not given."""
    from dataclasses import replace

    from drqa_ng.request import DEFAULT_K

    base = source_settings(args)
    return replace(
        base,
        fusion_weight=0.5 if base.fusion_weight is None else base.fusion_weight,
        reader_backend=args.backend,
        k=DEFAULT_K if args.k is None else checked_k(args),
        max_passages=args.max_passages,
        threads=args.threads,
        min_confidence=args.min_confidence,
        calibrated=args.calibrated,
        overlap={"on": True, "off": False}.get(getattr(args, "overlap", "auto")),
        evidence_weight=None
        if getattr(args, "evidence_order", "reader") == "retriever"
        else base.evidence_weight,
    )


def load_pipeline(args: argparse.Namespace) -> QAPipeline:
    from drqa_ng.pipeline import QAPipeline

    return QAPipeline.from_settings(pipeline_settings(args))
