"""scripts/plot_learning_curve.py: stages chained by windows seen, a PNG written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "plot_learning_curve.py"


def _log(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{cut short")
    return path


def test_stages_are_chained_by_windows_seen_and_a_png_is_written(tmp_path: Path) -> None:
    dev = {"f1": 70.0, "exact_match": 60.0}
    a = _log(tmp_path / "stage1" / "log.jsonl", [
        {"step": 0, "windows_seen": 0, "dev": dev},
        {"step": 5, "windows_seen": 100, "loss": 1.0},
        {"step": 10, "windows_seen": 200, "dev": {**dev, "f1": 72.0}},
    ])  # fmt: skip
    b = _log(tmp_path / "stage2" / "log.jsonl", [{"step": 4, "windows_seen": 50, "dev": {**dev, "f1": 73.0}}])
    out = tmp_path / "curve.png"
    res = subprocess.run(
        [sys.executable, str(SCRIPT), str(a), str(b), "--start-windows", "1000", "--out", str(out), "--fit"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "| 1,000 | 70.00 | 60.00 | stage1 |" in res.stdout
    assert "| 1,200 | 72.00 | 60.00 | stage1 |" in res.stdout
    assert "| 1,250 | 73.00 | 60.00 | stage2 |" in res.stdout
    assert "fit: F1 =" in res.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_branches_all_start_at_the_starting_model(tmp_path: Path) -> None:
    dev = {"f1": 70.0, "exact_match": 60.0}
    a = _log(tmp_path / "mix" / "log.jsonl", [{"step": 10, "windows_seen": 200, "dev": dev}])
    b = _log(
        tmp_path / "mix-ds" / "log.jsonl", [{"step": 10, "windows_seen": 300, "dev": {**dev, "f1": 71.0}}]
    )
    out = tmp_path / "curve.png"
    res = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(a),
            str(b),
            "--branches",
            "--start-windows",
            "1000",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "| 1,200 | 70.00 | 60.00 | mix |" in res.stdout
    assert "| 1,300 | 71.00 | 60.00 | mix-ds |" in res.stdout  # not chained after mix's 200


def test_branches_may_each_have_their_own_start(tmp_path: Path) -> None:
    dev = {"f1": 80.0, "exact_match": 70.0}
    teacher = _log(tmp_path / "teacher" / "log.jsonl", [{"step": 10, "windows_seen": 160, "dev": dev}])
    student = _log(tmp_path / "student" / "log.jsonl", [{"step": 10, "windows_seen": 160, "dev": dev}])
    out = tmp_path / "curve.png"
    cmd = [sys.executable, str(SCRIPT), str(teacher), str(student), "--out", str(out)]
    res = subprocess.run(
        [*cmd, "--branches", "--start-windows", "0", "23200"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert "| 160 | 80.00 | 70.00 | teacher |" in res.stdout
    assert "| 23,360 | 80.00 | 70.00 | student |" in res.stdout
    bad = subprocess.run([*cmd, "--start-windows", "0", "23200"], capture_output=True, text=True)
    assert bad.returncode != 0 and "need --branches" in bad.stderr
