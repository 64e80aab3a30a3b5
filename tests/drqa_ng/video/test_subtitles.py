"""Subtitle parsing: SRT, WebVTT, markup, malformed cues, encodings, sidecar lookup."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError, NotFoundError
from drqa_ng.video.subtitles import Cue, clean_cue_text, find_sidecar, load_subtitles, parse_srt, parse_vtt
from tests.fixtures.video import ALPHA_SRT, BETA_VTT


def test_parse_srt_times_text_and_markup() -> None:
    cues = parse_srt(ALPHA_SRT)
    assert len(cues) == 4
    assert cues[0] == Cue(0.0, 2.5, "The red balloon rises over the harbour")
    assert cues[1].text == "Seagulls circle the lighthouse"  # <i> removed
    assert cues[3].start == pytest.approx(7.6) and cues[3].end == pytest.approx(9.8)


def test_parse_srt_multiline_crlf_bom_and_hours() -> None:
    text = "\ufeff1\r\n01:02:03,450 --> 01:02:05,000\r\nfirst line\r\nsecond &amp; last\r\n"
    (cue,) = parse_srt(text)
    assert cue.start == pytest.approx(3723.45)
    assert cue.text == "first line second & last"


def test_parse_vtt_skips_header_notes_and_settings() -> None:
    cues = parse_vtt(BETA_VTT)
    assert [c.text for c in cues] == [
        "A train crosses the desert bridge",
        "The conductor whistles twice",
        "Passengers wave at the camels",
    ]
    assert cues[0].end == 3.0 and cues[2].start == 6.5  # mm:ss.ttt without hours


def test_malformed_cue_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:xx --> 00:00:04,000\nbad\n\n3\n00:00:09,000 --> 00:00:05,000\nbackwards\n"
    with caplog.at_level(logging.WARNING):
        cues = parse_srt(text, "t.srt")
    assert [c.text for c in cues] == ["ok"]
    msgs = " ".join(r.getMessage() for r in caplog.records)
    assert "t.srt:6" in msgs and "malformed timing" in msgs
    assert "ends before it starts" in msgs


def test_no_valid_cue_raises_data_format_error() -> None:
    with pytest.raises(DataFormatError, match="no valid subtitle cues"):
        parse_srt("this is not\na subtitle file\n", "x.srt")
    with pytest.raises(DataFormatError, match="not a WebVTT"):
        parse_vtt("1\n00:00:01.000 --> 00:00:02.000\nhi\n", "x.vtt")


def test_empty_file_gives_no_cues() -> None:
    assert parse_srt("") == []
    assert parse_vtt("WEBVTT\n\n") == []


def test_clean_cue_text_drops_ass_and_voice_tags() -> None:
    assert clean_cue_text("{\\an8}<v Bob>Hello</v>\n<c.yellow>there</c>") == "Hello there"


def test_load_subtitles_files(tmp_path: Path) -> None:
    (tmp_path / "a.srt").write_bytes("1\n00:00:00,000 --> 00:00:01,000\ncaf\xe9\n".encode("cp1252"))
    assert load_subtitles(tmp_path / "a.srt")[0].text == "café"
    (tmp_path / "b.txt").write_text("x")
    with pytest.raises(DataFormatError):
        load_subtitles(tmp_path / "b.txt")
    with pytest.raises(NotFoundError):
        load_subtitles(tmp_path / "missing.srt")


def test_find_sidecar_prefers_srt(tmp_path: Path) -> None:
    video = tmp_path / "clip.mkv"
    assert find_sidecar(video) is None
    (tmp_path / "clip.vtt").write_text("WEBVTT\n")
    assert find_sidecar(video) == tmp_path / "clip.vtt"
    (tmp_path / "clip.srt").write_text("")
    assert find_sidecar(video) == tmp_path / "clip.srt"


def test_embedded_text_stream(tmp_path: Path) -> None:
    from drqa_ng.video.subtitles import embedded_text_cues
    from tests.fixtures.video import write_embedded_video

    video = write_embedded_video(
        tmp_path / "e.mkv", [(0.5, 1.5, "Hello embedded world"), (2.0, 3.25, "Second <i>line</i>")]
    )
    cues, image_codecs = embedded_text_cues(video)
    assert image_codecs == []
    assert [c.text for c in cues] == ["Hello embedded world", "Second line"]
    assert cues[1].start == pytest.approx(2.0) and cues[1].end == pytest.approx(3.25)
