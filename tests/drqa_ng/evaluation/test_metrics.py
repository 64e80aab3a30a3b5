from __future__ import annotations

import pytest

from drqa_ng.evaluation.metrics import (
    exact_match,
    f1_score,
    has_answer,
    normalize_answer,
    regex_in_text,
    regex_match,
)


def test_normalize_like_official_script() -> None:
    assert normalize_answer("The  Eiffel, Tower!") == "eiffel tower"
    assert normalize_answer("an apple a day") == "apple day"


def test_exact_match_max_over_golds() -> None:
    assert exact_match("the Denver Broncos", ["Broncos", "Denver Broncos"]) == 1.0
    assert exact_match("Broncos!", ["Denver"]) == 0.0
    assert exact_match("x", []) == 0.0


def test_f1_partial_overlap() -> None:
    # pred tokens [denver, broncos, team], gold [denver, broncos]: P=2/3 R=1 F1=0.8
    assert f1_score("Denver Broncos team", ["Denver Broncos"]) == pytest.approx(0.8)
    assert f1_score("", ["a b"]) == 0.0
    assert f1_score("Carolina", ["Denver", "Carolina Panthers"]) == pytest.approx(2 / 3)


def test_regex_match_anchored_and_bad_pattern() -> None:
    assert regex_match("Ronald Reagan", [r"(Ronald )?Reagan"]) == 1.0
    assert regex_match("President Reagan", [r"Reagan"]) == 0.0
    assert regex_match("anything", ["(unclosed"]) == 0.0
    assert regex_in_text("was President Reagan then", [r"reagan"])


def test_has_answer_token_boundaries() -> None:
    assert has_answer("Paris is the capital of France.", ["paris"])
    assert not has_answer("Comparison of cities", ["paris"])
    assert has_answer("born in São Paulo, Brazil", ["Sao Paulo"]) is False
    assert has_answer("born in São Paulo, Brazil", ["São Paulo"])
    assert not has_answer("anything", [""])


def test_answer_and_passage_match_follow_the_sets_gold_kind() -> None:
    from drqa_ng.evaluation.metrics import answer_match, passage_match

    assert answer_match("The Nile", ["nile"]) == 1.0
    assert answer_match("Nile river", ["nile"]) == 0.0  # exact match, not a regex
    assert answer_match("Nile river", ["nile"], regex=True) == 1.0  # anchored regex at the start
    assert answer_match("the Nile", ["nile"], regex=True) == 0.0
    assert passage_match("It flows into the Nile delta.", ["Nile delta"])
    assert not passage_match("It flows north.", ["Nile"])
    assert passage_match("born in 1912 or so", [r"19[0-9]{2}"], regex=True)
    assert not passage_match("born in 1912 or so", [r"19[0-9]{2}"])  # a string gold is not a pattern
