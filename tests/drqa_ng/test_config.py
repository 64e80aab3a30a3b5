"""The data home's default: $DRQA_NG_HOME, else the per-user XDG data folder (never the current folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.config import default_home


def test_default_home_is_the_xdg_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DRQA_NG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_home() == tmp_path / "me" / ".local" / "share" / "drqa-ng"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "drqa-ng"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    assert default_home() == tmp_path / "me" / ".local" / "share" / "drqa-ng"
    monkeypatch.setenv("DRQA_NG_HOME", str(tmp_path / "explicit"))
    assert default_home() == tmp_path / "explicit"


def test_missing_home_error_names_the_ways_to_point_at_one(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for argv in (["ask", "Who wrote Hamlet?"], ["search", "Hamlet"], ["ask", "--home", str(tmp_path), "q"]):
        rc, _, err = run_cli(*argv)
        assert rc == 5, argv
        assert "--home" in err and "DRQA_NG_HOME" in err and "quickstart" in err, err


OLD_CONFIG = {  # what indexing.quickstart wrote before HomeConfig owned the format (key order kept)
    "format_version": 1,
    "docs": "docs.sqlite",
    "indexes": ["sparse", "dense"],
    "unit": "paragraph",
    "fusion": "rrf",
    "reader": None,
    "weight": None,
    "corpus": ["/data/simplewiki.xml.bz2"],
    "counts": {"documents": 5, "units": 40, "dense_units": 7, "skipped_duplicates": 1, "skipped_empty": 0},
    "dense_limit": 7,
    "seconds": {"docs": 0.5, "sparse": 1.25, "dense": 3.0},
    "built": "2026-12-01T10:00:00Z",
}


def test_home_config_reads_and_rewrites_the_old_bytes(tmp_path: Path) -> None:
    import json

    from drqa_ng.config import HomeConfig

    old = json.dumps(OLD_CONFIG, indent=2) + "\n"
    (tmp_path / "config.json").write_text(old, encoding="utf-8")
    cfg = HomeConfig.load(tmp_path)
    assert cfg.docs == tmp_path / "docs.sqlite" and cfg.indexes == (tmp_path / "sparse", tmp_path / "dense")
    assert (cfg.reader, cfg.answer_weight, cfg.fusion, cfg.counts.dense_units, cfg.dense_limit) == (
        None,
        None,
        "rrf",
        7,
        7,
    )
    cfg.save()
    assert (tmp_path / "config.json").read_text(encoding="utf-8") == old
    assert HomeConfig.load(tmp_path) == cfg


def test_home_config_errors(tmp_path: Path) -> None:
    import json

    from drqa_ng.config import HomeConfig
    from drqa_ng.errors import DataFormatError, NotFoundError, UnsupportedError

    with pytest.raises(NotFoundError, match="quickstart"):
        HomeConfig.load(tmp_path)
    for data, error in [
        ({**OLD_CONFIG, "format_version": 2}, UnsupportedError),
        ({k: v for k, v in OLD_CONFIG.items() if k != "docs"}, DataFormatError),
        ({**OLD_CONFIG, "weight": "heavy"}, DataFormatError),
        (["not", "an", "object"], DataFormatError),
    ]:
        (tmp_path / "config.json").write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(error):
            HomeConfig.load(tmp_path)
    (tmp_path / "config.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(DataFormatError):
        HomeConfig.load(tmp_path)


def test_cache_dir_is_resolved_in_one_place(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every cache (ONNX encoders, exported readers, the static model) sits under one XDG folder."""
    from drqa_ng.config import cache_dir
    from drqa_ng.reading.onnx_io import default_cache_dir as readers
    from drqa_ng.retrieval.encoder import default_cache_dir as encoders
    from drqa_ng.retrieval.static import default_static_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir("onnx") == encoders() == tmp_path / "drqa_ng" / "onnx"
    assert readers() == tmp_path / "drqa_ng" / "readers"
    assert default_static_dir().parent == tmp_path / "drqa_ng" / "static"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored, as the spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert encoders() == tmp_path / "home" / ".cache" / "drqa_ng" / "onnx"
