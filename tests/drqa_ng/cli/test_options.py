"""Options shared by several subcommands (drqa_ng/cli/options.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.cli.options import check_quoted
from drqa_ng.errors import InputError


def test_unquoted_question_is_an_error_that_suggests_quoting() -> None:
    with pytest.raises(InputError, match=r'quote.*"Who wrote Hamlet"'):
        check_quoted(["Who", "wrote", "Hamlet"])
    check_quoted(["Who wrote Hamlet?", "When was it written?"])  # several quoted questions
    check_quoted(["Hamlet"])  # one word is one question
    check_quoted([])


def test_ask_and_video_ask_refuse_unquoted_questions(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for argv in (
        ["ask", "Who", "wrote", "Hamlet"],
        ["video-ask", "--video-index", str(tmp_path), "Who", "is", "it"],
    ):
        rc, out, err = run_cli(*argv)
        assert rc == 2 and out == "" and "quote" in err and err.count("\n") == 1, err


def test_no_overlap_switches_the_pipeline_setting_off(tmp_path: Path) -> None:
    import argparse

    from drqa_ng.cli.options import add_pipeline_options, pipeline_settings

    p = argparse.ArgumentParser()
    add_pipeline_options(p)
    base = ["--index", str(tmp_path), "--docs", str(tmp_path / "d.sqlite")]
    assert pipeline_settings(p.parse_args(base)).overlap is None  # auto
    assert pipeline_settings(p.parse_args([*base, "--overlap", "on"])).overlap is True
    assert pipeline_settings(p.parse_args([*base, "--overlap", "off"])).overlap is False
    assert pipeline_settings(p.parse_args([*base, "--no-overlap"])).overlap is False


def test_auto_overlap_only_when_the_reader_leaves_a_core_free() -> None:
    from drqa_ng.pipeline import auto_overlap

    assert auto_overlap(1, cpus=2) is True
    assert auto_overlap(2, cpus=2) is False
    assert auto_overlap(None, cpus=16) is False  # the runtime's default takes every core
