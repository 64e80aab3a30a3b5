from __future__ import annotations

import subprocess
import sys

from drqa_ng.cli.main import main


def test_no_command_prints_help_and_fails(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([]) == 2
    assert "usage: drqa-ng" in capsys.readouterr().out


def test_console_entry_point_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "drqa_ng.cli.main", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("drqa-ng ")
