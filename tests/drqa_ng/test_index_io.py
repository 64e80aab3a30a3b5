from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drqa_ng.errors import IndexFormatError, NotFoundError
from drqa_ng.index_io import StringArray, atomic_dir, load_array, read_manifest, write_manifest


def test_string_array_roundtrip_non_ascii(tmp_path: Path) -> None:
    strings = ["", "abc", "Ελληνικά", "日本語", "a#p3"]
    assert StringArray.write(tmp_path, "ids", strings) == 5
    arr = StringArray.open(tmp_path, "ids")
    assert list(arr) == strings
    assert arr[-1] == "a#p3"
    assert arr.take([2, 0]) == ["Ελληνικά", ""]


def test_string_array_corrupt_offsets(tmp_path: Path) -> None:
    StringArray.write(tmp_path, "ids", ["x", "yz"])
    np.save(tmp_path / "ids.offsets.npy", np.array([0, 1, 9], dtype=np.int64))
    with pytest.raises(IndexFormatError):
        StringArray.open(tmp_path, "ids")


def test_atomic_dir_keeps_old_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "idx"
    with atomic_dir(target) as d:
        write_manifest(d, "sparse", 1, n=1)
    with pytest.raises(RuntimeError), atomic_dir(target) as d:
        write_manifest(d, "sparse", 1, n=2)
        raise RuntimeError("killed half-way")
    assert read_manifest(target)["n"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]


def test_manifest_checks(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_manifest(tmp_path / "missing")
    with pytest.raises(IndexFormatError, match="no manifest"):
        read_manifest(tmp_path)
    write_manifest(tmp_path, "dense", 2)
    with pytest.raises(IndexFormatError, match="expected 'sparse'"):
        read_manifest(tmp_path, kind="sparse")
    with pytest.raises(IndexFormatError, match="version 2"):
        read_manifest(tmp_path, kind="dense", version=1)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError, match="corrupt"):
        read_manifest(tmp_path)
    json.dumps({})


def test_load_array_rejects_pickle_and_garbage(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(IndexFormatError):
        load_array(tmp_path, "obj.npy")
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    with pytest.raises(IndexFormatError):
        load_array(tmp_path, "bad.npy")
    with pytest.raises(IndexFormatError, match="missing"):
        load_array(tmp_path, "nope.npy")
