"""VideoIndex: open/check, search, ask (heavy recognition only on retrieved segments), accounting, reader."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import IndexFormatError, InputError, NotFoundError
from drqa_ng.protocols import Retriever
from drqa_ng.types import Answer, Passage
from drqa_ng.video.index import VideoIndex
from drqa_ng.video.qa import answer_questions, select_frames
from tests.fixtures.video import CountingRecognizer


class FakeReader:
    """Returns the first word after "name is" in each passage, else the first word."""

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[Passage]], top_n: int = 1
    ) -> list[list[Answer]]:
        out = []
        for plist in passages:
            ans = []
            for p in plist:
                i = p.text.find("Captain")
                s, e = (i, i + len("Captain Marlowe")) if i >= 0 else (0, len(p.text.split(" ")[0]))
                ans.append(Answer(p.text[s:e], 1.0 if i >= 0 else 0.1, p, s, e, 1.0, 0.0))
            out.append(sorted(ans, key=lambda a: -a.score)[:top_n])
        return out


def test_open_and_search(video_index_dir: Path) -> None:
    idx = VideoIndex.open(video_index_dir)
    assert isinstance(idx, Retriever)
    assert len(idx) == idx.manifest["counts"]["segments"] >= 4
    (hits,) = idx.search(["conductor whistles"], 2)
    assert hits[0].id.startswith("beta#s") and hits[0].doc_id == "beta"


def test_video_index_is_a_retriever_over_segment_passages(video_index_dir: Path) -> None:
    from drqa_ng.indexes import open_retriever

    idx = VideoIndex.open(video_index_dir)
    opened = open_retriever(video_index_dir)  # by the manifest's kind, like sparse and dense indexes
    assert isinstance(opened, VideoIndex) and opened.unit == "passage"
    qs = ["conductor whistles", "What is the keeper's name?"]
    assert opened.search(qs, 3) == idx.search(qs, 3)
    (hits,) = idx.search(["What is the keeper's name?"], 1)
    p, missing = idx.get_passages([hits[0].id, "nope#s0"])
    assert missing is None and p is not None and p.id == hits[0].id and p.doc_id == hits[0].doc_id
    assert "Marlowe" in p.text and p.text[p.start : p.end] == p.text
    (answers,) = answer_questions(idx, ["What is the keeper's name?"], k=1)
    assert answers[0].text == p.text and answers[0].segment_id == p.id


def test_heavy_recognition_only_on_frames_of_retrieved_segments(video_index_dir: Path) -> None:
    idx = VideoIndex.open(video_index_dir)
    rec = CountingRecognizer()
    (answers,) = answer_questions(
        idx, ["What is the keeper's name?"], k=1, recognizer=rec, frames_per_segment=2
    )
    (a,) = answers
    assert a.video_id == "alpha" and "Captain Marlowe" in a.text
    assert rec.calls == 1 and rec.seconds is not None and len(rec.seconds) == 2
    # every frame the recogniser saw lies inside the retrieved segment (pixels encode the second)
    assert all(a.t_start <= s < a.t_end for s in rec.seconds)
    assert sorted(rec.seconds) == [round(f.t) for f in a.findings]
    acc = a.accounting
    assert acc.frames_heavy == 2 and acc.frames_decoded >= 2
    assert acc.index_frames_tagged == acc.index_frames_sampled == 25
    assert acc.index_frames_teacher > 0
    assert a.link == f"alpha.avi#t={a.t_start:.1f},{a.t_end:.1f}"
    assert a.span is None


def test_findings_report_what_the_recogniser_saw(video_index_dir: Path) -> None:
    idx = VideoIndex.open(video_index_dir)
    rec = CountingRecognizer()
    (answers,) = answer_questions(
        idx, ["passengers wave at camels"], k=1, recognizer=rec, frames_per_segment=4
    )
    seen = {round(f.t): bool(f.detections) for f in answers[0].findings}
    assert seen and all(has == (t >= 6) for t, has in seen.items())  # the circle is drawn from 6 s


def test_without_recognizer_no_frames_are_decoded(video_index_dir: Path) -> None:
    idx = VideoIndex.open(video_index_dir)
    res = answer_questions(idx, ["red balloon", "desert bridge train"], k=2)
    assert len(res) == 2 and all(len(r) <= 2 for r in res)
    assert all(a.findings == () and a.accounting.frames_heavy == 0 for r in res for a in r)


def test_reader_span_is_attached(video_index_dir: Path) -> None:
    idx = VideoIndex.open(video_index_dir)
    (answers,) = answer_questions(idx, ["What is the keeper's name?"], k=2, reader=FakeReader())
    top = answers[0]
    assert top.span is not None and top.span.text == "Captain Marlowe"
    assert top.span.passage.id == top.segment_id


def test_bad_questions(video_index_dir: Path) -> None:
    idx = VideoIndex.open(video_index_dir)
    with pytest.raises(InputError):
        answer_questions(idx, "one string")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        answer_questions(idx, [" "])
    with pytest.raises(InputError):
        answer_questions(idx, ["ok"], k=0)
    assert answer_questions(idx, []) == []


def test_select_frames_prefers_named_tag_then_middle() -> None:
    probs = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.0], [0.2, 0.2, 0.0], [0.1, 0.1, 0.0]], np.float32)
    tags = ("face", "person", "text")
    assert select_frames(probs, "is there a face?", tags, 1) == [1]
    assert select_frames(probs, "any people around", tags, 1) == [0]
    assert select_frames(np.zeros((5, 3), np.float32), "what happens", tags, 1) == [2]
    assert select_frames(probs, "x", tags, 0) == []


def test_corrupt_or_missing_index(video_index_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        VideoIndex.open(tmp_path / "nope")
    broken = tmp_path / "broken"
    shutil.copytree(video_index_dir, broken)
    np.save(broken / "seg_time.npy", np.zeros((1, 2)))
    with pytest.raises(IndexFormatError, match="seg_time"):
        VideoIndex.open(broken)
    (broken / "manifest.json").write_text('{"kind": "sparse", "format_version": 1}')
    with pytest.raises(IndexFormatError):
        VideoIndex.open(broken)
