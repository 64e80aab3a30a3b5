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


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _index(folder: Path, tag: str) -> Path:
    folder.mkdir()
    write_manifest(folder, "t", 1, tag=tag)
    return folder


def test_stale_temp_of_a_killed_build_is_removed_on_next_build_and_open(tmp_path: Path) -> None:
    """Before: ``.idx.tmp-*`` folders of killed builds stayed forever (up to a full index each)."""
    pid = _dead_pid()
    out = _index(tmp_path / "idx", "old")
    stale = tmp_path / f".idx.tmp-{pid}-1"
    stale.mkdir()
    (stale / "big.npy").write_bytes(b"x" * 100)
    assert read_manifest(out)["tag"] == "old"  # open: cleans up
    assert not stale.exists()
    stale.mkdir()
    with atomic_dir(out) as tmp:  # build: cleans up too
        write_manifest(tmp, "t", 1, tag="new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_temp_of_a_live_process_is_left_alone(tmp_path: Path) -> None:
    import os

    live = tmp_path / f".idx.tmp-{os.getppid()}-1"
    live.mkdir()
    _index(tmp_path / "idx", "old")
    read_manifest(tmp_path / "idx")
    assert live.exists()


def test_kill_between_the_renames_recovers_the_old_index_on_open(tmp_path: Path) -> None:
    """Before: a kill after ``idx -> .idx.old-*`` left no index and nothing recovered it."""
    pid = _dead_pid()
    _index(tmp_path / f".idx.old-{pid}-5", "old")
    assert read_manifest(tmp_path / "idx")["tag"] == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_finished_build_interrupted_before_its_swap_is_moved_into_place(tmp_path: Path) -> None:
    pid = _dead_pid()
    _index(tmp_path / "idx", "old")
    _index(tmp_path / f".idx.new-{pid}-5", "new")  # killed after tmp -> new, before idx -> old
    assert read_manifest(tmp_path / "idx")["tag"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]
    _index(tmp_path / f".idx.new-{pid}-7", "newer")  # killed after idx -> old as well
    (tmp_path / "idx").rename(tmp_path / f".idx.old-{pid}-7")
    assert read_manifest(tmp_path / "idx")["tag"] == "newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_disk_full_while_building_is_a_resource_error(tmp_path: Path) -> None:
    import errno

    from drqa_ng.errors import ResourceError

    with pytest.raises(ResourceError, match="disk full"), atomic_dir(tmp_path / "idx"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_fields_typed_reads() -> None:
    from drqa_ng.index_io import Fields

    f = Fields(
        {"n": 3, "x": 1.5, "whole": 2.0, "s": "a", "flag": True, "sub": {"k": 1}, "none": None}, "m.json"
    )
    assert (f.integer("n"), f.number("x"), f.integer("whole"), f.text("s"), f.flag("flag")) == (
        3,
        1.5,
        2,
        "a",
        True,
    )
    assert f.sub("sub").integer("k") == 1 and f.opt_text("none") is None and f.opt_text("absent") is None
    assert f.integer("absent", 7) == 7 and f.unknown(["n", "x"]) == {
        "whole": 2.0,
        "s": "a",
        "flag": True,
        "sub": {"k": 1},
        "none": None,
    }
    for call, match in [
        (lambda: f.integer("absent"), "m.json: manifest lacks 'absent'"),
        (lambda: f.integer("x"), "not an integer"),
        (lambda: f.integer("flag"), "not an integer"),
        (lambda: f.number("s"), "not a number"),
        (lambda: f.text("n"), "not a string"),
        (lambda: f.flag("n"), "not true/false"),
        (lambda: f.sub("n"), r"m.json.n: expected a JSON object"),
        (lambda: f.array("s"), "not a list"),
    ]:
        with pytest.raises(IndexFormatError, match=match):
            call()


def test_manifest_kind(tmp_path: Path) -> None:
    from drqa_ng.index_io import manifest_kind

    write_manifest(tmp_path, "martian", 9)
    assert manifest_kind(tmp_path) == "martian"
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": 3, "format_version": 1}))
    with pytest.raises(IndexFormatError, match="kind is not a string"):
        manifest_kind(tmp_path)


def test_string_hashes_follow_the_formula_and_rows_are_found(tmp_path: Path) -> None:
    from drqa_ng.index_io import string_hashes

    words = ["", "a", "ab", "Zürich#p3", "ab"]
    encoded = [w.encode() for w in words]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in encoded])]).astype(np.int64)
    got = string_hashes(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)
    p, mask = 1099511628211, (1 << 64) - 1
    for w, h in zip(encoded, got.tolist(), strict=True):
        want = 0
        for b in w:
            want = (want * p + b + 1) & mask
        assert h == want
    StringArray.write(tmp_path, "ids", words)
    arr = StringArray.open(tmp_path, "ids")
    assert arr.rows_of(["ab", "Zürich#p3", "missing", "", "a"]).tolist() == [2, 3, -1, 0, 1]
    assert arr.rows_of([]).tolist() == []
