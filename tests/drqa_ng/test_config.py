"""The data home's default: $DRQA_NG_HOME, else the per-user XDG data folder (never the current folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.config import default_home


def test_default_home_is_the_xdg_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DRQA_NG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_home() == tmp_path / "me" / ".local" / "share" / "drqa-ng"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "drqa-ng"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    assert default_home() == tmp_path / "me" / ".local" / "share" / "drqa-ng"
    monkeypatch.setenv("DRQA_NG_HOME", str(tmp_path / "explicit"))
    assert default_home() == tmp_path / "explicit"


def test_missing_home_error_names_the_ways_to_point_at_one(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for argv in (["ask", "Who wrote Hamlet?"], ["search", "Hamlet"], ["ask", "--home", str(tmp_path), "q"]):
        rc, _, err = run_cli(*argv)
        assert rc == 5, argv
        assert "--home" in err and "DRQA_NG_HOME" in err and "quickstart" in err, err
