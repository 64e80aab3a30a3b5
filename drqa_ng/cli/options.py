"""Options shared by several subcommands, so each is spelled, defaulted and documented once."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drqa_ng.errors import InputError


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
