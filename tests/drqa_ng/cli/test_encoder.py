"""`drqa-ng mine-pairs` and `drqa-ng train-encoder` on the tiny corpus."""

from __future__ import annotations

import json
from pathlib import Path

from drqa_ng.evaluation.splits import parity_half
from drqa_ng.retrieval.pairs import read_pairs


def _qa_file(tmp_path: Path) -> Path:
    rows = [
        {"id": f"q{i}", "question": q, "answer": [a]}
        for i, (q, a) in enumerate(
            [
                ("When did the French Revolution begin?", "1789"),
                ("When was the Eiffel Tower completed?", "1889"),
                ("Who designed the Eiffel Tower?", "Gustave Eiffel"),
                ("When did Marie Curie win the Nobel Prize in Physics?", "1903"),
                ("What is the capital of France?", "Paris"),
                ("Which countries border France?", "Belgium"),
                ("Who wrote about unicorns on Mars?", "nobody at all"),
            ]
            * 3
        )
    ]
    for i, r in enumerate(rows):
        r["id"] = f"q{i}"
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_mine_pairs_keeps_tune_halves_and_answerable_questions(
    run_cli,
    tiny_sparse_index: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    qa = _qa_file(tmp_path)
    out = tmp_path / "pairs.jsonl.gz"
    rc, stdout, _ = run_cli(
        "-q", "mine-pairs", str(out), "--index", str(tiny_sparse_index), "--questions", str(qa)
    )
    assert rc == 0 and "pairs from" in stdout
    pairs = read_pairs(out)
    assert pairs and all(parity_half(p.id) == "tune" for p in pairs)  # the test half stays unseen
    assert all("unicorns" not in p.question for p in pairs)  # no paragraph holds its answer
    by_q = {p.question: p for p in pairs}
    if "When was the Eiffel Tower completed?" in by_q:
        assert "1889" in by_q["When was the Eiffel Tower completed?"].positive
    rc, _, _ = run_cli(
        "-q",
        "mine-pairs",
        str(tmp_path / "all.jsonl.gz"),
        "--index",
        str(tiny_sparse_index),
        "--questions",
        str(qa),
        "--all-halves",
    )
    assert rc == 0 and len(read_pairs(tmp_path / "all.jsonl.gz")) > len(pairs)


def test_mine_pairs_and_train_encoder_errors(
    run_cli,
    tiny_sparse_index: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    rc, _, err = run_cli("mine-pairs", str(tmp_path / "p.jsonl.gz"), "--index", str(tiny_sparse_index))
    assert rc == 2 and "--questions" in err
    rc, _, err = run_cli(
        "mine-pairs",
        str(tmp_path / "p.jsonl.gz"),
        "--index",
        str(tiny_sparse_index),
        "--questions",
        str(tmp_path / "missing.jsonl"),
    )
    assert rc != 0 and "missing.jsonl" in err
    rc, _, err = run_cli("train-encoder", str(tmp_path / "run"), "--pairs", str(tmp_path / "none.jsonl.gz"))
    assert rc != 0 and "none.jsonl.gz" in err
    assert not (tmp_path / "run").exists()


def test_train_encoder_static_ships_an_int8_model(
    run_cli,
    tiny_sparse_index: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from drqa_ng.retrieval.pairs import write_pairs
    from drqa_ng.retrieval.static import StaticEncoder
    from tests.drqa_ng.tuning.test_encoder import _pairs, _tiny_static

    write_pairs(tmp_path / "p.jsonl.gz", _pairs())
    base = _tiny_static(tmp_path / "base")
    static = ["--pairs", str(tmp_path / "p.jsonl.gz"), "--kind", "static", "--base", str(base)]
    fast = ["--epochs", "2", "--batch-size", "16", "--dev-share", "0.2"]
    ship = ["--ship-static", str(tmp_path / "ship")]
    rc, stdout, err = run_cli("-q", "train-encoder", str(tmp_path / "run"), *static, *fast, *ship)
    assert rc == 0, err
    assert "best held-out MRR" in stdout and "int8 static model" in stdout
    assert StaticEncoder.load(tmp_path / "ship").encode(["river"]).shape == (1, 8)
    distil = ["--distil-static", str(tmp_path / "x")]
    rc, _, err = run_cli("train-encoder", str(tmp_path / "run2"), *static, *distil)
    assert rc == 2 and "--kind transformer" in err
    rc, _, err = run_cli(
        "train-encoder", str(tmp_path / "run2"), *static, "--ship-dense", str(tmp_path / "y")
    )
    assert rc == 2 and "--kind transformer" in err
