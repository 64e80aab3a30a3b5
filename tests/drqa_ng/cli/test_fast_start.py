"""The ONNX inference path (ask / serve with an int8 ONNX reader, BM25 and the ONNX dense query
encoder) imports neither torch nor transformers (issue 13, item 4: ~11 s of every `drqa-ng ask` was
importing them). Each check runs in a fresh interpreter, since this test process has torch loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.corpus import TINY_FACTS

REPO = Path(__file__).resolve().parents[3]

ASK = """
import json, sys
from drqa_ng.cli.main import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "heavy": sorted(m for m in ("torch", "transformers") if m in sys.modules)}), file=sys.stderr)
"""

SERVE = """
import json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from drqa_ng.cli.main import build_parser
from drqa_ng.cli.options import pipeline_settings
from serving.app import create_app
from serving.settings import ServerSettings
args = build_parser().parse_args(["serve", *sys.argv[1:]])
with TestClient(create_app(ServerSettings(pipeline=pipeline_settings(args)))) as c:
    r = c.post("/v1/ask", json={"question": "What is the capital of France?"})
    assert r.status_code == 200 and r.json()["results"][0]["answers"], r.text
print(json.dumps({"rc": 0, "heavy": sorted(m for m in ("torch", "transformers") if m in sys.modules)}), file=sys.stderr)
"""


def _run(script: str, *argv: str, env: dict[str, str] | None = None) -> tuple[dict[str, object], str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, env=full_env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1]), proc.stdout


@pytest.fixture(scope="module")
def onnx_dense_index(
    tiny_docstore: Path, onnx_cache_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A dense index built with the int8 ONNX encoder (exported into ``onnx_cache_home``)."""
    from drqa_ng.retrieval.encoder import Encoder, default_cache_dir
    from indexing.dense import build_dense_index

    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(onnx_cache_home)
    try:
        enc = Encoder.load(backend="onnx-int8", cache_dir=default_cache_dir(), max_length=64)
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME")
        else:
            os.environ["XDG_CACHE_HOME"] = old
    out = tmp_path_factory.mktemp("onnx_dense") / "dense"
    build_dense_index(tiny_docstore, out, unit="paragraph", factory="Flat", encoder=enc, chunk_size=16)
    return out


@pytest.mark.slow
def test_ask_with_shipped_onnx_reader_and_bm25_imports_no_torch(
    tiny_sparse_index: Path, tiny_docstore: Path
) -> None:
    q = TINY_FACTS[0][0]
    res, out = _run(ASK, "ask", "--index", str(tiny_sparse_index), "--docs", str(tiny_docstore), "--json", q)
    assert res == {"rc": 0, "heavy": []}
    assert json.loads(out)["answers"]


@pytest.mark.slow
def test_ask_and_serve_with_onnx_dense_encoder_import_no_torch(
    tiny_sparse_index: Path,
    tiny_docstore: Path,
    tiny_onnx_dir: Path,
    onnx_dense_index: Path,
    onnx_cache_home: Path,
) -> None:
    args = ["--index", str(tiny_sparse_index), "--index", str(onnx_dense_index), "--docs", str(tiny_docstore)]
    args += ["--reader", str(tiny_onnx_dir)]
    env = {"XDG_CACHE_HOME": str(onnx_cache_home)}
    res, out = _run(ASK, "ask", *args, "--json", TINY_FACTS[0][0], env=env)
    assert res == {"rc": 0, "heavy": []}
    assert json.loads(out)["answers"]
    res, _ = _run(SERVE, *args, env=env)
    assert res == {"rc": 0, "heavy": []}
