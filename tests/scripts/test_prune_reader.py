"""scripts/prune_reader.py: a reader model folder with some encoder layers kept loads and reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "prune_reader.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_kept_layers_are_the_chosen_ones_and_the_folder_reads(tiny_model_dir: Path, tmp_path: Path) -> None:
    from drqa_ng.reading.model import load_model
    from drqa_ng.reading.reader import load_reader
    from drqa_ng.types import Passage

    out = tmp_path / "pruned"
    res = _run(str(tiny_model_dir), str(out), "--layers", "1")
    assert res.returncode == 0, res.stderr
    assert "1 of 2 layers kept" in res.stdout
    full, pruned = load_model(tiny_model_dir), load_model(out)
    assert pruned.encoder.config.num_hidden_layers == 1
    layers = pruned.encoder.encoder.layer  # type: ignore[union-attr]
    assert len(layers) == 1
    # the kept layer is the original second one, the head and embeddings unchanged
    src = dict(full.named_parameters())
    for name, p in pruned.named_parameters():
        orig = name.replace("encoder.encoder.layer.0.", "encoder.encoder.layer.1.")
        assert torch.equal(p, src[orig]), name
    text = "The Eiffel Tower is in Paris."
    p = Passage(id="d#0", doc_id="d", title="d", text=text, start=0, end=len(text))
    [[ans]] = load_reader(out).read(["Where is the tower?"], [[p]])
    assert text[ans.start : ans.end] == ans.text


def test_bad_layer_lists_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    for layers in ("2", "0,0", "-1", ""):
        res = _run(str(tiny_model_dir), str(tmp_path / "x"), "--layers", layers)
        assert res.returncode != 0
        assert "prune_reader:" in res.stderr and "Traceback" not in res.stderr
        assert not (tmp_path / "x").exists()
