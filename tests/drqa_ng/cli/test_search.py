from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drqa_ng.types import Passage
from indexing.sparse import build_sparse_index


def test_help(run_cli) -> None:  # type: ignore[no-untyped-def]
    for cmd in ("build-sparse", "search"):
        with pytest.raises(SystemExit) as e:
            run_cli(cmd, "--help")
        assert e.value.code == 0


def test_build_sparse_and_search(run_cli, tiny_docstore: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "idx"
    rc, stdout, _ = run_cli(
        "build-sparse",
        str(tiny_docstore),
        str(out),
        "--scoring",
        "tfidf",
        "--buckets",
        "65536",
        "--no-progress",
    )
    assert rc == 0 and "built tfidf index" in stdout
    rc, stdout, _ = run_cli("search", str(out), "Who designed the Eiffel Tower?", "-k", "3")
    assert rc == 0
    lines = stdout.strip().splitlines()
    assert 1 <= len(lines) <= 3
    rank, score, unit_id, title, _snippet = lines[0].split("\t")
    assert rank == "1" and float(score) > 0 and unit_id.startswith("eiffel_tower") and title


def test_search_table_json_and_queries_file(run_cli, tiny_sparse_index: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rc, stdout, _ = run_cli("search", str(tiny_sparse_index), "capital of France", "--json", "-k", "2")
    assert rc == 0
    [res] = [json.loads(line) for line in stdout.splitlines()]  # JSON Lines, one object per query
    assert res["query"] == "capital of France" and len(res["hits"]) == 2
    top = res["hits"][0]
    assert top["id"] == "france#p0" and top["doc_id"] == "france" and "Paris" in top["text"] and top["title"]
    qfile = tmp_path / "q.txt"
    qfile.write_text("Eiffel Tower\n\nMount Everest ascent\n")
    rc, stdout, _ = run_cli(
        "search", "--index", str(tiny_sparse_index), "--queries-file", str(qfile), "--json"
    )
    assert rc == 0
    assert [json.loads(line)["query"] for line in stdout.splitlines()] == [
        "Eiffel Tower",
        "Mount Everest ascent",
    ]
    rc, stdout, _ = run_cli(
        "search", "--index", str(tiny_sparse_index), "Beatles Liverpool", "Python language"
    )
    assert rc == 0 and "# Beatles Liverpool" in stdout and "# Python language" in stdout


def test_ids_only_without_doc_store(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build_sparse_index(
        [Passage("a#p0", "a", "Alpha", "red apples", 0, 10)],
        tmp_path / "i",
        unit="paragraph",
        buckets=256,
        show_progress=False,
    )
    rc, stdout, _ = run_cli("search", str(tmp_path / "i"), "apples")
    assert rc == 0 and stdout.strip().split("\t")[2] == "a#p0" and len(stdout.strip().split("\t")) == 3
    rc, stdout, _ = run_cli("search", str(tmp_path / "i"), "zebras")
    assert rc == 0 and "(no hits)" in stdout


def _err(run_cli, *argv: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    rc, _, err = run_cli(*argv)
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in err
    return rc, lines[0]


def test_bad_input_is_one_line_error(run_cli, tiny_sparse_index: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    idx = str(tiny_sparse_index)
    assert _err(run_cli, "search", str(tmp_path / "nope"), "q")[0] == 5
    assert _err(run_cli, "search", idx, "   ")[0] == 2
    assert _err(run_cli, "search", idx)[0] == 2
    assert _err(run_cli, "search")[0] == 2
    assert _err(run_cli, "search", idx, "q", "-k", "0")[0] == 2
    rc, msg = _err(
        run_cli, "search", "--index", idx, "--index", idx, "q", "--fusion", "interp", "--weight", "2"
    )
    assert rc == 2 and "weight" in msg  # fusion itself works since H3's hybrid edit
    assert _err(run_cli, "search", idx, "q", "--docs", str(tmp_path / "missing.sqlite"))[0] == 5
    assert _err(run_cli, "search", idx, "--queries-file", str(tmp_path / "none.txt"))[0] == 5
    bad = tmp_path / "bad"
    shutil.copytree(tiny_sparse_index, bad)
    (bad / "data.npy").write_bytes(b"garbage")
    assert _err(run_cli, "search", str(bad), "q")[0] == 4
    m = json.loads((bad / "manifest.json").read_text())
    (bad / "manifest.json").write_text(json.dumps({**m, "format_version": 0}))
    rc, msg = _err(run_cli, "search", str(bad), "q")
    assert rc == 4 and "version" in msg


def test_build_sparse_bad_input(run_cli, tiny_docstore: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert _err(run_cli, "build-sparse", str(tmp_path / "none.sqlite"), str(tmp_path / "o"))[0] == 5
    assert _err(run_cli, "build-sparse", str(tiny_docstore), str(tmp_path / "o"), "--buckets", "0")[0] == 2
    assert (
        _err(run_cli, "build-sparse", str(tiny_docstore), str(tmp_path / "o"), "--b", "3", "--no-progress")[0]
        == 2
    )
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not sqlite")
    assert _err(run_cli, "build-sparse", str(junk), str(tmp_path / "o"))[0] == 4
    assert not (tmp_path / "o").exists()


def test_hybrid_search_cli(run_cli, tiny_sparse_index: Path, tiny_dense_index: Path) -> None:  # type: ignore[no-untyped-def]
    q = "When was the Eiffel Tower completed?"
    rc, stdout, _ = run_cli(
        "search", "--index", str(tiny_sparse_index), "--index", str(tiny_dense_index), q, "-k", "2", "--json"
    )
    assert rc == 0
    hits = json.loads(stdout.splitlines()[0])["hits"]
    assert hits[0]["id"] == "eiffel_tower#p1" and len(hits) == 2
    rc, stdout, _ = run_cli(
        "search", "--index", str(tiny_sparse_index), "--index", str(tiny_dense_index), q,
        "--fusion", "interp", "--weight", "0.3", "-k", "1",
    )  # fmt: skip
    assert rc == 0 and "eiffel_tower#p1" in stdout


def test_search_writes_a_trec_run_file(run_cli, tiny_sparse_index: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    qfile = tmp_path / "topics.tsv"
    qfile.write_text("101\tWhen was the Eiffel Tower completed?\nWho designed the Eiffel Tower?\n")
    run = tmp_path / "runs" / "bm25.trec"
    rc, stdout, err = run_cli(
        "search", str(tiny_sparse_index), "capital of France", "--queries-file", str(qfile),
        "-k", "3", "--trec-run", str(run), "--trec-tag", "bm25", "--json",
    )  # fmt: skip
    assert rc == 0, err
    shown = [json.loads(line) for line in stdout.splitlines()]
    rows = [line.split(" ") for line in run.read_text().splitlines()]
    assert all(len(r) == 6 and r[1] == "Q0" and r[5] == "bm25" for r in rows)
    # positional queries are numbered by position; a "QID<TAB>QUERY" line keeps its own id
    assert [r[0] for r in rows] == ["1"] * 3 + ["101"] * 3 + ["3"] * 3
    assert [q["query"] for q in shown][1] == "When was the Eiffel Tower completed?"
    for n, q in enumerate(shown):
        mine = rows[3 * n : 3 * n + 3]
        assert [r[2] for r in mine] == [h["id"] for h in q["hits"]]
        assert [int(r[3]) for r in mine] == [1, 2, 3]
        assert [float(r[4]) for r in mine] == pytest.approx([h["score"] for h in q["hits"]], abs=1e-5)
    assert rows[3][2] == "eiffel_tower#p1"
    rc, _, err = run_cli("search", str(tiny_sparse_index), "q", "--trec-run", str(run), "--trec-tag", "a b")
    assert rc == 2 and "tag" in err


def test_search_without_an_index_uses_the_data_home(  # type: ignore[no-untyped-def]
    run_cli, tiny_sparse_index: Path, tiny_docstore: Path, tmp_path: Path, monkeypatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cfg = {"format_version": 1, "docs": str(tiny_docstore), "indexes": [str(tiny_sparse_index)]}
    (home / "config.json").write_text(json.dumps(cfg))
    q = "When was the Eiffel Tower completed?"
    rc, stdout, err = run_cli("search", "--home", str(home), q, "-k", "1")
    assert rc == 0, err
    assert stdout.split("\t")[2:4] == ["eiffel_tower#p1", "Eiffel Tower"]
    monkeypatch.setenv("DRQA_NG_HOME", str(home))
    assert run_cli("search", q, "-k", "1")[1] == stdout
    rc, _, err = run_cli("search", "--home", str(tmp_path / "none"), q)
    assert rc == 5 and "--home" in err and "DRQA_NG_HOME" in err


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("form", ["positional", "--index"])
def test_search_recovers_a_swap_killed_at_the_second_rename_in_both_forms(  # type: ignore[no-untyped-def]
    run_cli, tiny_sparse_index: Path, tmp_path: Path, form: str
) -> None:
    """Before: the positional form said idx was not an index; only ``--index idx`` recovered it."""
    pid = _dead_pid()
    shutil.copytree(tiny_sparse_index, tmp_path / f".idx.old-{pid}-5")  # killed after idx -> old
    shutil.copytree(tiny_sparse_index, tmp_path / f".idx.new-{pid}-5")  # ... before new -> idx
    idx = tmp_path / "idx"
    args = [str(idx), "Eiffel Tower"] if form == "positional" else ["--index", str(idx), "Eiffel Tower"]
    rc, stdout, err = run_cli("search", *args, "-k", "1")
    assert rc == 0 and "eiffel_tower" in stdout, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_a_query_with_glob_characters_moves_nothing(  # type: ignore[no-untyped-def]
    run_cli, tiny_sparse_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first query such as "?????" is checked as a possible index folder: its recovery must not
    match (and move into place) the leftovers of another index whose name has as many letters."""
    pid = _dead_pid()
    other = tmp_path / f".other.new-{pid}-5"
    shutil.copytree(tiny_sparse_index, other)
    monkeypatch.chdir(tmp_path)
    run_cli("search", "--home", str(tmp_path / "nohome"), "?????", "Eiffel")
    assert other.exists() and not (tmp_path / "?????").exists()
