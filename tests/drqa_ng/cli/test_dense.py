from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.corpus import TINY_FACTS, tiny_facts_jsonl


@pytest.fixture(scope="module")
def facts_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("q") / "facts.jsonl"
    path.write_text(tiny_facts_jsonl())
    return path


def test_build_dense_cli(run_cli, tiny_docstore: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "dense"
    args = ("--unit", "doc", "--chunk-size", "4", "--backend", "torch")
    rc, stdout, _ = run_cli("build-dense", str(tiny_docstore), str(out), *args)
    assert rc == 0, stdout
    assert "doc vectors" in stdout and "Flat" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["unit"] == "doc" and manifest["docs"] == str(tiny_docstore.resolve())
    rc, stdout, _ = run_cli("search", str(out), "Who first climbed the highest peak on Earth?", "-k", "1")
    assert rc == 0 and "mount_everest" in stdout


def test_build_dense_cli_static_backend(  # type: ignore[no-untyped-def]
    run_cli, tiny_docstore: Path, tiny_static_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "static"
    args = ("--unit", "doc", "--backend", "static", "--encoder", str(tiny_static_dir))
    rc, stdout, _ = run_cli("build-dense", str(tiny_docstore), str(out), *args)
    assert rc == 0, stdout
    assert stdout.startswith("static index") and "doc vectors, dim 16" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["encoder"]["backend"] == "static"
    rc, stdout, _ = run_cli("search", str(out), "Mount Everest", "-k", "1")
    assert rc == 0 and stdout.strip()  # queries reopen the static model recorded in the manifest
    rc, _, err = run_cli("build-dense", str(tiny_docstore), str(tmp_path / "s2"), *args, "--engine", "ray")
    assert rc != 0 and "--backend static runs locally" in err


@pytest.mark.slow
def test_build_dense_cli_auto_backend_is_int8_on_cpu(  # type: ignore[no-untyped-def]
    run_cli, tiny_docstore: Path, tmp_path: Path, onnx_cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("auto picks torch on a CUDA machine")
    monkeypatch.setenv("XDG_CACHE_HOME", str(onnx_cache_home))  # the ONNX export goes there
    out = tmp_path / "dense"
    rc, stdout, _ = run_cli("build-dense", str(tiny_docstore), str(out), "--unit", "doc")
    assert rc == 0, stdout
    assert json.loads((out / "manifest.json").read_text())["encoder"]["backend"] == "onnx-int8"
    assert list((onnx_cache_home / "drqa_ng" / "onnx").glob("*.onnx"))
    rc, stdout, _ = run_cli("search", str(out), "Who first climbed the highest peak on Earth?", "-k", "1")
    assert rc == 0 and "mount_everest" in stdout  # queries go through the same int8 runtime


def test_build_dense_cli_errors(run_cli, tiny_docstore: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rc, _, err = run_cli("build-dense", str(tmp_path / "none.sqlite"), str(tmp_path / "o"))
    assert rc == 5 and err.count("\n") == 1
    rc, _, err = run_cli("build-dense", str(tiny_docstore), str(tmp_path / "o"), "--factory", "Bogus7")
    assert rc == 2 and "factory" in err


def test_eval_retrieval_cli(  # type: ignore[no-untyped-def]
    run_cli,
    tiny_docstore: Path,
    tiny_sparse_index: Path,
    tiny_dense_index: Path,
    facts_jsonl: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "eval"
    rc, stdout, _ = run_cli(
        "eval-retrieval", "--questions", str(facts_jsonl), "--docs", str(tiny_docstore),
        "--index", str(tiny_sparse_index), "--index", str(tiny_dense_index), "--out", str(out), "-k", "1", "5",
        "--fusion", "rrf", "interp", "--weight", "0.4", "--trec-run",
    )  # fmt: skip
    assert rc == 0, stdout
    metrics = json.loads((out / "retrieval_metrics.json").read_text())
    assert metrics["questions"] == len(TINY_FACTS) and metrics["ks"] == [1, 5]
    names = [s["name"] for s in metrics["systems"]]
    assert names == ["tiny_sparse", "tiny_dense", "hybrid-rrf", "hybrid-interp-w0.4"]
    for s in metrics["systems"]:
        assert s["recall"][1] >= s["recall"][0] >= 0.5
    assert (out / "recall_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| hybrid-rrf |" in stdout and "| hybrid-interp-w0.4 |" in stdout
    # one TREC run file per system: question ids, depth max(k), tagged with the system's name
    for name in names:
        rows = [line.split(" ") for line in (out / f"run.{name}.trec").read_text().splitlines()]
        assert {r[5] for r in rows} == {name} and {r[1] for r in rows} == {"Q0"}
        assert sorted({r[0] for r in rows}, key=int) == [str(i) for i in range(1, len(TINY_FACTS) + 1)]
        per_q = [r for r in rows if r[0] == "3"]  # "When was the Eiffel Tower completed?"
        assert [int(r[3]) for r in per_q] == list(range(1, len(per_q) + 1)) and len(per_q) <= 5
        assert "eiffel_tower#p1" in [r[2] for r in per_q]


def test_eval_retrieval_cli_errors(
    run_cli, tiny_docstore: Path, tiny_dense_index: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    base = [
        "eval-retrieval",
        "--docs",
        str(tiny_docstore),
        "--index",
        str(tiny_dense_index),
        "--out",
        str(tmp_path),
    ]
    assert run_cli(*base, "--questions", str(tmp_path / "none.jsonl"))[0] == 5
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    assert run_cli(*base, "--questions", str(bad))[0] == 3
