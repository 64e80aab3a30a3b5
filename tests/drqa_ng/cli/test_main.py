from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from drqa_ng.cli.main import build_parser, main
from drqa_ng.config import DEFAULT_K


def test_no_command_prints_help_and_fails(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([]) == 2
    assert "usage: drqa-ng" in capsys.readouterr().out


def test_console_entry_point_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "drqa_ng.cli.main", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("drqa-ng ")


@pytest.mark.parametrize("flag", ["-v", "--verbose", "--debug", "-q", "--quiet"])
def test_common_flags_work_before_and_after_the_subcommand(flag: str) -> None:
    parser = build_parser()
    before = parser.parse_args([flag, "docs-info", "x.sqlite"])
    after = parser.parse_args(["docs-info", "x.sqlite", flag])
    dest = {"-v": "verbose", "-q": "quiet"}.get(flag, flag.lstrip("-"))
    assert getattr(before, dest) is True and getattr(after, dest) is True
    plain = parser.parse_args(["docs-info", "x.sqlite"])
    assert (plain.verbose, plain.debug, plain.quiet) == (False, False, False)


def test_debug_after_the_subcommand_shows_the_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from drqa_ng.errors import NotFoundError

    assert main(["docs-info", str(tmp_path / "none.sqlite")]) == 5
    with pytest.raises(NotFoundError):
        main(["docs-info", str(tmp_path / "none.sqlite"), "--debug"])


EVAL = ["--dataset", "squad", "f.json", "--out", "o"]
EVAL_DENSE = ["--questions", "q.json", "--index", "i", "--docs", "d.sqlite", "--out", "o"]


def test_renamed_flags_are_hidden_aliases() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cases = [  # (command, argv, old flag, dest, value)
        ("ask", ["--n-docs", "7", "q"], "--n-docs", "k", 7),
        ("ask", ["--reader-backend", "onnx", "q"], "--reader-backend", "backend", "onnx"),
        ("build-sparse", ["d.sqlite", "o", "--workers", "3"], "--workers", "threads", 3),
        ("build-sparse", ["d.sqlite", "o", "--no-progress"], "--no-progress", "quiet", True),
        ("build-docs", ["a", "o.sqlite", "--no-progress"], "--no-progress", "quiet", True),
        ("build-dense", ["d.sqlite", "o", "--backend", "onnx-int8"], "onnx-int8", "backend", "onnx"),
        # one vocabulary: the answer weight and the fusion weight have their own names everywhere
        ("ask", ["--weight", "0.3", "q"], "--weight", "answer_weight", 0.3),
        ("eval", ["--weight", "0.3", *EVAL], "--weight", "answer_weight", 0.3),
        ("search", ["--weight", "0.3", "q"], "--weight", "fusion_weight", 0.3),
        ("search", ["--depth", "50", "q"], "--depth", "fusion_depth", 50),
        ("eval-retrieval", ["--weight", "0.3", *EVAL_DENSE], "--weight", "fusion_weight", 0.3),
        ("eval-retrieval", ["--depth", "50", *EVAL_DENSE], "--depth", "fusion_depth", 50),
        # batch sizes say what they count: questions per call, token windows per model call
        ("eval", ["--batch-size", "4", *EVAL], "--batch-size", "question_batch", 4),
        ("eval-reader", ["--batch-size", "8", "m", "--data", "f.json"], "--batch-size", "window_batch", 8),
    ]
    for command, argv, old, dest, value in cases:
        assert getattr(parser.parse_args([command, *argv]), dest) == value, (command, argv)
        assert not re.search(rf"(?<![\w-]){old}\b", sub.choices[command].format_help()), (command, old)
    new = parser.parse_args(["ask", "--answer-weight", "0.2", "--fusion-weight", "0.6", "q"])
    assert (new.answer_weight, new.fusion_weight) == (0.2, 0.6)
    new = parser.parse_args(["ask", "-k", "7", "--backend", "onnx", "--threads", "2", "-n", "3", "q"])
    assert (new.k, new.backend, new.threads, new.top_n) == (7, "onnx", 2, 3)
    assert parser.parse_args(["search", "q"]).k == DEFAULT_K
    from drqa_ng.cli.options import pipeline_settings

    ask_args = parser.parse_args(["ask", "--index", "i", "--docs", "d", "q"])
    assert ask_args.k is None and pipeline_settings(ask_args).k == DEFAULT_K  # video asks say 3
    from drqa_ng.pipeline import DEFAULT_EVIDENCE_WEIGHT

    assert pipeline_settings(ask_args).evidence_weight == DEFAULT_EVIDENCE_WEIGHT
    by_retriever = parser.parse_args(
        ["ask", "--index", "i", "--docs", "d", "--evidence-order", "retriever", "q"]
    )
    assert pipeline_settings(by_retriever).evidence_weight is None
    assert parser.parse_args(["ask", "--top-n", "4", "q"]).top_n == 4
