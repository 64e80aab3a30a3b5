from __future__ import annotations

import numpy as np
import pytest

from drqa_ng.reading.decoding import balanced_span, best_spans


def test_best_span_is_argmax_of_start_plus_end() -> None:
    s = np.array([[0.0, 5.0, 1.0, 0.0]])
    e = np.array([[0.0, 0.0, 2.0, 4.0]])
    mask = np.ones_like(s, dtype=bool)
    st, en, sc = best_spans(s, e, mask, max_answer_len=5, top_k=2)
    assert (st[0, 0], en[0, 0]) == (1, 3)
    assert sc[0, 0] == pytest.approx(9.0)
    assert (st[0, 1], en[0, 1]) == (1, 2)
    assert sc[0, 1] == pytest.approx(7.0)


def test_end_before_start_is_never_chosen() -> None:
    s = np.array([[0.0, 0.0, 10.0]])
    e = np.array([[10.0, 0.0, 1.0]])
    st, en, _ = best_spans(s, e, np.ones((1, 3), dtype=bool), max_answer_len=3)
    assert st[0, 0] <= en[0, 0]
    assert (st[0, 0], en[0, 0]) == (2, 2)


def test_max_answer_len_limits_width() -> None:
    s = np.array([[9.0, 0.0, 0.0, 0.0, 0.0]])
    e = np.array([[0.0, 0.0, 0.0, 0.0, 9.0]])
    st, en, _ = best_spans(s, e, np.ones((1, 5), dtype=bool), max_answer_len=2)
    assert en[0, 0] - st[0, 0] + 1 <= 2


def test_mask_excludes_question_tokens_and_rows_are_independent() -> None:
    s = np.array([[100.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    e = np.array([[100.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    mask = np.array([[False, True, True], [True, True, True]])
    st, en, sc = best_spans(s, e, mask, max_answer_len=3)
    assert (st[0, 0], en[0, 0], sc[0, 0]) == (1, 2, 3.0)
    assert (st[1, 0], en[1, 0], sc[1, 0]) == (2, 2, 6.0)


def test_missing_spans_are_padded() -> None:
    s = np.zeros((1, 3))
    mask = np.array([[False, True, False]])
    st, en, sc = best_spans(s, s, mask, max_answer_len=3, top_k=3)
    assert (st[0, 0], en[0, 0]) == (1, 1)
    assert list(st[0, 1:]) == [-1, -1] and np.all(np.isneginf(sc[0, 1:]))


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError):
        best_spans(np.zeros((1, 3)), np.zeros((1, 4)), np.ones((1, 3), dtype=bool))


def test_matches_brute_force_enumeration() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        length = int(rng.integers(1, 12))
        s, e = rng.normal(size=(3, length)), rng.normal(size=(3, length))
        mask = rng.random((3, length)) > 0.3
        max_len, k = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        st, en, sc = best_spans(s, e, mask, max_len, k)
        for r in range(3):
            want = sorted(
                (s[r, i] + e[r, j], i, j)
                for i in range(length)
                for j in range(i, min(length, i + max_len))
                if mask[r, i] and mask[r, j]
            )[::-1][:k]
            np.testing.assert_allclose(sc[r, : len(want)], [w[0] for w in want])
            for (score, _i, _j), a, b in zip(want, st[r], en[r], strict=False):
                assert s[r, a] + e[r, b] == score and a <= b < a + max_len
            assert np.all(st[r, len(want) :] == -1)


@pytest.mark.parametrize(
    ("span", "kept"),
    [
        ("Fe) is a chemical element and a metal", "Fe"),  # opened inside "(symbol Fe)"
        ("6 miles (9.7 km", "6 miles"),  # stops inside a parenthetical
        ("(1288", "1288"),  # nothing before the opener: the part after it
        (") 1912", "1912"),  # nothing before the closer
        ("a (b) c", "a (b) c"),  # balanced: unchanged
        ("a [b (c) d] e", "a [b (c) d] e"),
        ("x, (y", "x"),  # trailing separator trimmed off the cut span
        ("(a] b", "a"),  # mismatched pair: cut until balanced
        ("(", "("),  # a cut would leave nothing: unchanged
    ],
)
def test_balanced_span_cuts_half_brackets(span: str, kept: str) -> None:
    text = "pre " + span + " post"
    s, e = balanced_span(text, 4, 4 + len(span))
    assert text[s:e] == kept
    assert 4 <= s <= e <= 4 + len(span)
