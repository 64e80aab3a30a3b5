"""README's commands run as written on a tiny corpus: the quickstart line, the after-quickstart
commands on the data home, and the Python example.

Two substitutions, both said here: the shared Simple Wikipedia path becomes the tiny test corpus, and
quickstart gets ``--no-background`` (the detached MiniLM build would outlive the test). The static
model quickstart would distil (minutes) is the tiny one, placed where quickstart's cache looks.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _drqa_commands(block: str) -> list[list[str]]:
    """Each ``drqa-ng ...`` command of a bash block (split on &&, comments dropped) as argv."""
    out = []
    for line in block.splitlines():
        for part in line.split("&&"):
            part = part.split(" #")[0].strip()
            if part.startswith("drqa-ng "):
                out.append(shlex.split(part)[1:])
    return out


def test_readme_opens_with_the_two_commands() -> None:
    run_it, test_it = _blocks("bash")[:2]
    assert (
        "pip install torch==2.13.0" in run_it and "drqa-ng quickstart" in run_it and "drqa-ng ask" in run_it
    )
    assert (
        test_it.strip() == 'pip install torch==2.13.0 && pip install -e ".[dev,scale]" && python -m pytest -q'
    )
    ci = (README.parent / ".ci" / "run").read_text()
    assert "python3 -m pytest -q" in ci  # CI runs the README's test command
    assert len(README.read_text().splitlines()) <= 200


@pytest.mark.slow
def test_readme_commands_run_on_a_tiny_corpus(
    tiny_corpus_jsonl: Path, tiny_static_dir: Path, tmp_path: Path
) -> None:
    from drqa_ng.retrieval.static import default_static_dir

    env = dict(os.environ, DRQA_NG_HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    shutil.copytree(tiny_static_dir, default_static_dir(tmp_path / "cache" / "drqa_ng" / "static"))
    root = README.parent

    def drqa(argv: list[str], stdin: str = "") -> str:
        r = subprocess.run(
            [sys.executable, "-m", "drqa_ng.cli.main", *argv],
            cwd=root,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, (argv, r.stderr[-2000:])
        return r.stdout

    run_it = _drqa_commands(_blocks("bash")[0])
    assert [c[0] for c in run_it] == ["quickstart", "ask"]
    quickstart = [str(tiny_corpus_jsonl) if a.endswith("simplewiki-2018") else a for a in run_it[0]]
    drqa([*quickstart, "--no-background"])
    assert "Paris" in drqa(run_it[1])  # "What is the capital of France?"

    after = _drqa_commands(_blocks("bash")[2])
    assert [c[0] for c in after] == ["ask", "ask", "ask", "search", "status", "serve"]
    for argv in after[:5]:  # serve runs until stopped: its own tests cover it
        drqa(argv, stdin="Who designed the Eiffel Tower?\n")

    [python] = _blocks("python")
    r = subprocess.run(
        [sys.executable, "-c", python], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Paris" in r.stdout
