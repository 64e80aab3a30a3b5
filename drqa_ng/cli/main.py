"""The one ``drqa-ng`` entry point. Each subcommand lives in its own module with ``register``.

Handlers are thin: parse, call the library, print. Errors from the library (``DrqaError``) become a
one-line message on stderr and the error's exit code; no traceback unless ``--debug``. So do
``OSError``s from the environment (exit 7 for a full disk, as ``ResourceError``; 1 otherwise).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from drqa_ng import __version__
from drqa_ng.errors import DrqaError, ResourceError

# Each module defines ``register(subparsers)``; imports inside handlers stay lazy so ``--help`` is fast.
COMMAND_MODULES = (
    "drqa_ng.cli.docs",
    "drqa_ng.cli.sparse",
    "drqa_ng.cli.search",
    "drqa_ng.cli.dense",
    "drqa_ng.cli.add",
    "drqa_ng.cli.reader",
    "drqa_ng.cli.encoder",
    "drqa_ng.cli.ask",
    "drqa_ng.cli.quickstart",
    "drqa_ng.cli.evaluate",
    "drqa_ng.cli.calibrate",
    "drqa_ng.cli.serve",
    "drqa_ng.cli.video",
    "drqa_ng.cli.search_tagger",
    "drqa_ng.cli.status",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drqa-ng",
        description="Open-domain question answering: build doc stores and indexes, search, ask, evaluate, serve.",
    )
    parser.add_argument("--version", action="version", version=f"drqa-ng {__version__}")
    add_common_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for command in sub.choices.values():
        add_common_options(command, defaults=False)
    return parser


def add_common_options(p: argparse.ArgumentParser, *, defaults: bool) -> None:
    """``-v``, ``--debug`` and ``-q`` on the main parser (``defaults``) and again on every subcommand.

    A subcommand's copies default to SUPPRESS, so ``drqa-ng -v ask`` and ``drqa-ng ask -v`` both work
    and a flag given before the subcommand is not reset by the subparser.
    """
    d: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details", **d)
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors", **d)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, only errors on stderr", **d)


def _os_error(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror or e}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        rc = args.func(args)
    except DrqaError as e:
        if args.debug:
            raise
        print(f"drqa-ng {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"drqa-ng {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # the environment, not a bug: a full disk, a permission, a vanished file
        if args.debug:
            raise
        from drqa_ng.index_io import is_disk_full

        print(f"drqa-ng {args.command}: error: {_os_error(e)}", file=sys.stderr)
        return ResourceError.exit_code if is_disk_full(e) else 1
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
