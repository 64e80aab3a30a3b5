from __future__ import annotations

import json
from pathlib import Path

import pytest

SQUAD = {
    "data": [
        {
            "title": "T",
            "paragraphs": [
                {
                    "context": "Paris is the capital of France. The Nile flows through Egypt.",
                    "qas": [
                        {
                            "id": "1",
                            "question": "What is the capital of France?",
                            "answers": [{"text": "Paris", "answer_start": 0}],
                        },
                        {
                            "id": "2",
                            "question": "What river flows through Egypt?",
                            "answers": [{"text": "Nile", "answer_start": 36}],
                        },
                    ],
                }
            ],
        }
    ]
}


@pytest.mark.slow
def test_train_eval_export_reader(run_cli, tiny_encoder_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "s.json"
    data.write_text(json.dumps(SQUAD))
    run = tmp_path / "run"
    rc, out, err = run_cli(
        "train-reader",
        str(run),
        "--train",
        str(data),
        "--dev",
        str(data),
        "--base",
        str(tiny_encoder_dir),
        "--max-steps",
        "3",
        "--batch-size",
        "2",
        "--max-length",
        "48",
        "--stride",
        "16",
        "--threads",
        "1",
    )
    assert rc == 0, err
    assert "3 steps" in out and (run / "model" / "manifest.json").is_file()
    rc, out, err = run_cli(
        "export-reader", str(run / "model"), str(tmp_path / "onnx"), "--note", 'data="tiny"'
    )
    assert rc == 0, err
    assert json.loads((tmp_path / "onnx" / "manifest.json").read_text())["data"] == "tiny"
    rc, out, err = run_cli(
        "eval-reader",
        str(tmp_path / "onnx"),
        "--data",
        str(data),
        "--out",
        str(tmp_path / "e.json"),
        "--limit",
        "1",
    )
    assert rc == 0, err
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["questions"] == 1 and report["backend"] == "onnx"
    assert 0.0 <= report["f1"] <= 100.0 and "EM" in out


def test_train_reader_continues_a_run_from_its_folder_and_warm_starts_from_onnx(  # type: ignore[no-untyped-def]
    run_cli, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from drqa_ng.reading.onnx_io import export_reader

    data = tmp_path / "s.json"
    data.write_text(json.dumps(SQUAD))
    export_reader(tiny_model_dir, tmp_path / "onnx")
    run = tmp_path / "run"
    flags = [
        "--max-steps",
        "4",
        "--batch-size",
        "1",
        "--max-length",
        "48",
        "--stride",
        "16",
        "--save-every",
        "2",
    ]
    rc, out, err = run_cli(
        "train-reader", str(run), "--train", f"{data}:2", "--base", str(tmp_path / "onnx"), *flags,
        "--threads", "1", "--stop-at-step", "3",
    )  # fmt: skip
    assert rc == 0, err
    assert "3 steps" in out and "s: 2 examples, weight 2" in out
    assert (run / "warm-start" / "manifest.json").is_file()
    # other settings for the same folder are refused; no --train continues the stored run
    rc, _, err = run_cli("train-reader", str(run), "--train", str(data), "--threads", "1")
    assert rc == 2 and "other settings" in err
    rc, out, err = run_cli("train-reader", str(run), "--threads", "1", "--save-every", "1")
    assert rc == 0, err
    assert "4 steps" in out
    assert json.loads((run / "run.json").read_text())["config"]["save_every"] == 1
    assert json.loads((run / "ckpt" / "manifest.json").read_text())["position"]["step"] == 4
    rc, _, err = run_cli("train-reader", str(tmp_path / "new"))
    assert rc == 2 and "--train is required" in err


def test_reader_commands_fail_cleanly(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rc, _, err = run_cli("eval-reader", str(tmp_path / "none"), "--data", str(tmp_path / "none.json"))
    assert rc == 5 and "eval-reader: error:" in err
    (tmp_path / "q.jsonl").write_text(json.dumps({"id": "x", "question": "q?", "answer": "a"}) + "\n")
    rc, _, err = run_cli("train-reader", str(tmp_path / "r"), "--train", str(tmp_path / "q.jsonl"))
    assert rc == 3 and "context" in err


def test_export_reader_smooths_with_squad_data_and_refuses_data_without_paragraphs(  # type: ignore[no-untyped-def]
    run_cli, tiny_model_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "s.json"
    data.write_text(json.dumps(SQUAD))
    rc, out, err = run_cli(
        "export-reader", str(tiny_model_dir), str(tmp_path / "onnx"), "--smooth-data", str(data)
    )
    assert rc == 0, err
    assert "2 MatMuls smoothed" in out  # the tiny encoder's two FFN inputs
    manifest = json.loads((tmp_path / "onnx" / "manifest.json").read_text())
    assert manifest["smoothed_matmuls"] == 2 and manifest["smooth_data"] == str(data)
    plain = tmp_path / "q.jsonl"
    plain.write_text('{"question": "Who?", "answer": ["x"]}\n')
    rc, out, err = run_cli(
        "export-reader", str(tiny_model_dir), str(tmp_path / "o2"), "--smooth-data", str(plain)
    )
    assert rc == 2 and "SQuAD JSON" in err
    assert not (tmp_path / "o2").exists()


def test_export_reader_fp32_compute_says_how_many_and_is_not_combined_with_smoothing(  # type: ignore[no-untyped-def]
    run_cli, tiny_model_dir: Path, tmp_path: Path
) -> None:
    rc, out, err = run_cli(
        "export-reader", str(tiny_model_dir), str(tmp_path / "ffn"), "--fp32-compute", "ffn"
    )
    assert rc == 0, err
    assert "2 MatMuls with int8 weights run in fp32" in out  # the tiny encoder's two FFN inputs
    manifest = json.loads((tmp_path / "ffn" / "manifest.json").read_text())
    assert manifest["fp32_compute"] == "ffn" and manifest["fp32_compute_matmuls"] == 2
    data = tmp_path / "s.json"
    data.write_text(json.dumps(SQUAD))
    rc, _, err = run_cli(
        "export-reader",
        str(tiny_model_dir),
        str(tmp_path / "o2"),
        "--fp32-compute",
        "all",
        "--smooth-data",
        str(data),
    )
    assert rc == 2 and "alternatives" in err
    assert not (tmp_path / "o2").exists()
