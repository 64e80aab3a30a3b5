from __future__ import annotations

from pathlib import Path

import pytest

from drqa_ng.errors import DataFormatError, InputError
from drqa_ng.evaluation.trec import trec_run_lines, write_trec_run
from drqa_ng.types import Hit


def _hit(uid: str, score: float) -> Hit:
    return Hit(uid, uid.split("#")[0], score)


def test_run_lines_are_qid_q0_docid_rank_score_tag() -> None:
    ranked = [[_hit("a#p0", 2.5), _hit("b#p1", 1.0)], [], [_hit("c#p2", -0.25)]]
    lines = list(trec_run_lines(["q1", "q2", "3"], ranked, "bm25"))
    assert lines == [
        "q1 Q0 a#p0 1 2.500000 bm25",
        "q1 Q0 b#p1 2 1.000000 bm25",
        "3 Q0 c#p2 1 -0.250000 bm25",
    ]


def test_fields_with_whitespace_are_refused_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "run.trec"
    with pytest.raises(InputError, match="query id"):
        write_trec_run(out, ["q 1"], [[_hit("a#p0", 1.0)]], "t")
    with pytest.raises(InputError, match="tag"):
        write_trec_run(out, ["q1"], [[_hit("a#p0", 1.0)]], "my run")
    with pytest.raises(DataFormatError, match="unit id"):
        write_trec_run(out, ["q1"], [[_hit("a b#p0", 1.0)]], "t")
    with pytest.raises(InputError, match="ranked lists"):
        write_trec_run(out, ["q1", "q2"], [[]], "t")
    assert not out.exists()
    assert write_trec_run(out, ["q1"], [[_hit("a#p0", 1.0)]], "t").read_text() == "q1 Q0 a#p0 1 1.000000 t\n"
