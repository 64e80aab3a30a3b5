"""search-tagger end to end on three tiny synthetic videos with a fake teacher (a tiny search), plus
the pure scoring and choice rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import InputError
from drqa_ng.video.nas import load_searched
from indexing.tagger_data import sample_and_label, split_by_video
from indexing.tagger_search import (
    REPORT_JSON,
    REPORT_PNG,
    TAGGER_FILE,
    Scored,
    SearchOptions,
    beats,
    choose,
    f1_per_tag,
    run_search,
)
from tests.fixtures.video import CountingRecognizer

TINY = SearchOptions(
    lambdas=(0.5,), search_epochs=1, warmup_epochs=0, epochs=1, batch_size=8, budget_s=600.0, seeds=1,
    fps=1.0, min_frames=4, input_size=32,
)  # fmt: skip


def test_f1_per_tag_formula() -> None:
    probs = np.array([[0.9, 0.1, 0.2], [0.8, 0.7, 0.1], [0.2, 0.6, 0.3]])
    gold = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float32)
    # tag 0: TP 1, FP 1, FN 1 -> 2/4; tag 1: TP 2 -> 100; tag 2: nothing to find or claim -> 100
    assert f1_per_tag(probs, gold).tolist() == pytest.approx([50.0, 100.0, 100.0])


def _s(name: str, f1: float, fps: float) -> Scored:
    return Scored(name, "", (f1,), f1, fps, None)


def test_choice_and_verdict_rules() -> None:
    hand = _s("hand", 60.0, 100.0)
    slow_good, fast_same, fast_bad = _s("a", 80.0, 50.0), _s("b", 60.5, 150.0), _s("c", 40.0, 300.0)
    assert choose([slow_good, fast_same, fast_bad], hand).name == "b"  # best F1 among the fast enough
    assert beats(fast_same, hand)  # faster at equal F1
    assert beats(_s("d", 70.0, 100.0), hand)  # better F1 at equal speed
    assert not beats(slow_good, hand) and not beats(fast_bad, hand)
    assert choose([slow_good], hand).name == "a"  # none fast enough: the fastest


def test_split_by_video_keeps_videos_apart() -> None:
    train, val = split_by_video(7)
    assert val == [2, 5] and not set(train) & set(val) and sorted(train + val) == list(range(7))
    assert split_by_video(2) == ([0], [1])
    with pytest.raises(InputError):
        split_by_video(1)


def test_search_tagger_runs_search_retrain_export(video_dir: Path, tmp_path: Path) -> None:
    videos = [video_dir / "alpha.avi", video_dir / "beta.avi", video_dir / "silent.avi"]
    teacher = CountingRecognizer()
    report = run_search(videos, tmp_path, TINY, teacher=teacher)
    for f in (REPORT_JSON, REPORT_PNG, TAGGER_FILE, "latency_table.json", "frames.npz"):
        assert (tmp_path / f).is_file(), f
    on_disk = json.loads((tmp_path / REPORT_JSON).read_text())
    assert on_disk["chosen"] == report["chosen"]
    assert {c["name"] for c in on_disk["candidates"]} >= {on_disk["chosen"]}
    assert on_disk["videos"]["validation"] == [str((video_dir / "silent.avi").resolve())]
    assert len(on_disk["hand"]["f1"]) == 3 and on_disk["hand"]["frames_per_s"] > 0
    model = load_searched(tmp_path / TAGGER_FILE)
    assert model.config.input_size == 32
    # the labelled frames are cached: a second labelling run asks the teacher nothing
    calls = teacher.calls
    sample_and_label(videos, tmp_path, size=32, fps=1.0, min_frames=4, teacher=teacher)
    assert teacher.calls == calls


def test_search_tagger_cli_errors(run_cli, video_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rc, _, err = run_cli(
        "search-tagger", str(tmp_path / "missing.avi"), str(video_dir / "alpha.avi"), str(tmp_path / "o")
    )
    assert rc != 0 and "not found" in err and "Traceback" not in err
    rc, _, err = run_cli(
        "search-tagger", str(video_dir / "alpha.avi"), str(tmp_path / "o"), "--budget-minutes", "0"
    )
    assert rc == 2 and "budget" in err
