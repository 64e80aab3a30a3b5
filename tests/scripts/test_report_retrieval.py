"""scripts/report_retrieval.sh end to end on a tiny stand-in for ../shared/data (CPU, default encoder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.corpus import tiny_facts_jsonl

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "report_retrieval.sh"
SETS = ("squad", "curatedtrec", "webquestions", "wikimovies")


def _fake_data(root: Path, wikiextractor: Path) -> Path:
    """The shared-data layout the script reads, filled with the test corpora."""
    (root / "wiki").mkdir(parents=True)
    shutil.copytree(wikiextractor / "text", root / "wiki" / "simplewiki-2018")
    shutil.copytree(wikiextractor / "json", root / "wiki" / "enwiki-2015-part")
    context = "The Eiffel Tower was completed in 1889. It was designed by the company of Gustave Eiffel."
    squad = {
        "version": "1.1",
        "data": [
            {
                "title": "Eiffel_Tower_(SQuAD)",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": "q1",
                                "question": "In which year was the Eiffel Tower completed?",
                                "answers": [{"text": "1889", "answer_start": context.index("1889")}],
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (root / "squad").mkdir()
    (root / "squad" / "dev-v1.1-part-A.json").write_text(json.dumps(squad))
    (root / "squad" / "part-A-validation-articles.txt").write_text("Eiffel_Tower_(SQuAD)\n")
    (root / "qa").mkdir()
    lines = tiny_facts_jsonl()
    for name in ("curatedtrec-train", "webquestions-train", "wikimovies-dev"):
        (root / "qa" / f"{name}.jsonl").write_text(lines)
    return root


@pytest.mark.slow
def test_report_retrieval_script(
    tiny_wikiextractor_tree: Path, onnx_cache_home: Path, tmp_path: Path
) -> None:
    if shutil.which("drqa-ng") is None:
        pytest.skip("the drqa-ng console script is not on PATH (pip install -e .)")
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip(
            "on a CUDA machine the script's --backend auto encodes with torch; this checks the CPU path"
        )
    data = _fake_data(tmp_path / "data", tiny_wikiextractor_tree)
    env = {**os.environ, "DRQA_NG_DATA": str(data), "XDG_CACHE_HOME": str(onnx_cache_home)}
    run = tmp_path / "run"

    def report() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), str(run)], env=env, capture_output=True, text=True, timeout=900
        )

    first = report()
    assert first.returncode == 0, first.stderr[-2000:]
    assert "dense index" in first.stdout
    for name in SETS:
        metrics = json.loads((run / name / "retrieval_metrics.json").read_text())
        systems = {s["name"]: s for s in metrics["systems"]}
        assert set(systems) == {"sparse", "dense", "hybrid-rrf", "hybrid-interp-w0.5"}
        assert (run / name / "recall_at_k.png").stat().st_size > 0
        assert (run / f"{name}.md").read_text().startswith("| system |")
    squad = json.loads((run / "squad" / "retrieval_metrics.json").read_text())
    assert squad["questions"] == 1 and all(s["recall"][-1] == 1.0 for s in squad["systems"])
    assert json.loads((run / "curatedtrec" / "retrieval_metrics.json").read_text())["regex"] is True
    manifest = json.loads((run / "dense" / "manifest.json").read_text())
    assert manifest["encoder"]["backend"] == "onnx-int8" and manifest["encoder"]["max_length"] == 128

    second = report()  # every index exists: nothing is rebuilt, the reports run again
    assert second.returncode == 0, second.stderr[-2000:]
    assert "dense index" not in second.stdout and second.stdout.count("| system |") == len(SETS)


def test_report_retrieval_script_needs_a_run_dir() -> None:
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "usage: scripts/report_retrieval.sh RUN_DIR" in done.stderr
