"""`drqa-ng build-video`, `train-tagger`, `video-ask` end to end on the synthetic videos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drqa_ng.video.tagger import TinyTagger, save_tagger


def test_build_and_ask(run_cli, video_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tagger = tmp_path / "t.safetensors"
    save_tagger(TinyTagger(), tagger)
    out = tmp_path / "idx"
    rc, stdout, _ = run_cli(
        "build-video", str(video_dir / "alpha.avi"), str(video_dir / "beta.avi"), str(out),
        "--tagger", str(tagger), "--min-seg", "3", "--max-seg", "6", "--overlap", "1",
    )  # fmt: skip
    assert rc == 0, stdout
    assert "2 videos" in stdout and "tagged by tiny CNN 19" in stdout
    rc, stdout, _ = run_cli(
        "video-ask", "--video-index", str(out), "--no-recognize", "--no-reader", "Who is the keeper?"
    )
    assert rc == 0
    assert "alpha.avi#t=" in stdout and "Captain Marlowe" in stdout and "heavy 0" in stdout
    rc, stdout, _ = run_cli(
        "video-ask", "--video-index", str(out), "--no-reader", "--json", "-k", "1", "conductor whistles"
    )
    assert rc == 0
    obj = json.loads(stdout)
    (ans,) = obj["answers"]
    assert ans["video_id"] == "beta" and ans["accounting"]["frames_heavy"] == 2
    assert len(ans["frames"]) == 2 and ans["span"] is None and ans["video_path"].endswith("beta.avi")


def test_errors_are_one_line(run_cli, tmp_path: Path, video_dir: Path) -> None:  # type: ignore[no-untyped-def]
    rc, _, err = run_cli("video-ask", "--video-index", str(tmp_path / "none"), "q")
    assert rc == 5 and err.startswith("drqa-ng video-ask: error:") and err.count("\n") == 1
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"x")
    rc, _, err = run_cli(
        "build-video", str(video_dir / "silent.avi"), str(tmp_path / "o"), "--tagger", str(bad)
    )
    assert rc == 4 and "tagger" in err
    rc, stdout, _ = run_cli(
        "build-video", str(video_dir / "silent.avi"), str(tmp_path / "s"), "--tagger", "shipped"
    )
    assert rc == 0 and "labelled by heavy recogniser 0" in stdout
    rc, _, err = run_cli("build-video", str(tmp_path / "missing.mkv"), str(tmp_path / "o"))
    assert rc == 5
    rc, _, err = run_cli("build-video", str(video_dir / "silent.avi"), str(tmp_path / "o"), "--min-seg", "40")
    assert rc == 2


@pytest.mark.slow
def test_train_tagger(run_cli, video_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("pytesseract")
    out = tmp_path / "tagger.safetensors"
    rc, stdout, _ = run_cli(
        "train-tagger", str(video_dir / "silent.avi"), str(out), "--epochs", "1", "--label-fraction", "0.5"
    )
    assert rc == 0 and out.is_file() and "3 of 6 sampled frames" in stdout


def test_ask_with_video_index(run_cli, video_index_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """`drqa-ng ask --video-index` answers with timestamp links, like `video-ask`."""
    rc, stdout, _ = run_cli(
        "ask",
        "--video-index",
        str(video_index_dir),
        "--no-recognize",
        "-n",
        "1",
        "--json",
        "Who is the keeper?",
    )
    assert rc == 0, stdout
    (ans,) = json.loads(stdout)["answers"]
    assert ans["video_id"] == "alpha" and "#t=" in ans["link"] and ans["accounting"]["frames_heavy"] == 0
    rc, _, err = run_cli("ask", "--video-index", str(video_index_dir), "-i")
    assert rc == 2 and "not supported" in err


def test_search_lists_segments_of_a_video_index(run_cli, video_index_dir: Path) -> None:  # type: ignore[no-untyped-def]
    rc, stdout, err = run_cli("search", str(video_index_dir), "conductor whistles", "-k", "2", "--json")
    assert rc == 0, err
    (res,) = [json.loads(line) for line in stdout.splitlines()]
    assert res["hits"] and res["hits"][0]["rank"] == 1 and res["hits"][0]["id"].startswith("beta#s")
    assert res["hits"][0]["doc_id"] == "beta"


def test_build_video_takes_a_searched_tagger(run_cli, video_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    from drqa_ng.video.nas import Arch, SearchedTagger, save_searched
    from drqa_ng.video.taggers import load_any_tagger

    arch = Arch(("g2k3", "skip", "skip", "g3k3", "skip", "skip", "g2k5", "skip", "skip"), (48, 96, 192))
    torch.manual_seed(0)
    path = tmp_path / "searched.safetensors"
    save_searched(SearchedTagger(arch), path)
    rc, stdout, err = run_cli(
        "build-video", str(video_dir / "silent.avi"), str(tmp_path / "s"), "--tagger", str(path)
    )
    assert rc == 0, err
    assert "labelled by heavy recogniser 0" in stdout
    written = load_any_tagger(tmp_path / "s" / "tagger.safetensors")  # the index keeps the searched tagger
    assert isinstance(written, SearchedTagger) and written.arch == arch
