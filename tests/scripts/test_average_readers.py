"""scripts/average_readers.py: the averaged folder holds the weighted mean of its inputs and reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(SCRIPTS / script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _shifted(src: Path, out: Path, delta: float) -> None:
    from drqa_ng.reading.model import load_model, save_model

    model = load_model(src)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(delta)
    save_model(model, src, out, max_length=64)


def test_weighted_mean_of_every_parameter_and_the_folder_reads(tiny_model_dir: Path, tmp_path: Path) -> None:
    from drqa_ng.reading.manifest import ReaderManifest
    from drqa_ng.reading.model import MODEL_KIND, load_model
    from drqa_ng.reading.reader import load_reader
    from drqa_ng.types import Passage

    b = tmp_path / "b"
    _shifted(tiny_model_dir, b, 1.0)
    out = tmp_path / "avg"
    res = _run("average_readers.py", str(out), str(tiny_model_dir), str(b), "--weights", "3", "1")
    assert res.returncode == 0, res.stderr
    a_params = dict(load_model(tiny_model_dir).named_parameters())
    for name, p in load_model(out).named_parameters():
        assert torch.allclose(p, a_params[name] + 0.25, atol=1e-5), name  # (3·θ + 1·(θ + 1)) / 4
    info = ReaderManifest.load(out, MODEL_KIND).to_json()
    assert [s["weight"] for s in info["averaged_from"]] == [3.0, 1.0]
    text = "The Eiffel Tower is in Paris."
    p = Passage(id="d#0", doc_id="d", title="d", text=text, start=0, end=len(text))
    [[ans]] = load_reader(out).read(["Where is the tower?"], [[p]])
    assert text[ans.start : ans.end] == ans.text


def test_other_architectures_and_bad_weights_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    one = tmp_path / "one-layer"
    assert _run("prune_reader.py", str(tiny_model_dir), str(one), "--layers", "0").returncode == 0
    for args in (
        [str(tiny_model_dir), str(one)],
        [str(tiny_model_dir), str(tiny_model_dir), "--weights", "1"],
        [str(tiny_model_dir), str(tiny_model_dir), "--weights", "-1", "1"],
        [str(tiny_model_dir)],
    ):
        res = _run("average_readers.py", str(tmp_path / "x"), *args)
        assert res.returncode != 0, args
        assert "average_readers:" in res.stderr and "Traceback" not in res.stderr
        assert not (tmp_path / "x").exists()
