from __future__ import annotations

import itertools
import unicodedata

import pytest

from drqa_ng.retrieval.tokenize import (
    STOPWORDS,
    Token,
    is_filterable,
    ngrams,
    ngrams_of_texts,
    normalize,
    token_texts,
    tokenize,
    tokenize_batch,
)

SAMPLES = [
    "Hello, World! The café is open.",
    "Ἀθῆναι είναι η πρωτεύουσα της Ελλάδας.",
    "Москва — столица России.",
    "東京は日本の首都です。",
    "हिन्दी भारत की राजभाषा है",
    "Łódź, İstanbul & São Paulo (2024): 3.5%",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_offsets_point_into_the_original_string(text: str) -> None:
    toks = tokenize(text)
    assert toks
    for t in toks:
        assert normalize(text[t.start : t.end]) == t.text
    assert [t.text for t in toks] == token_texts(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(toks))


def test_words_punctuation_and_case() -> None:
    toks = tokenize("Hello, World!")
    assert toks == [Token("hello", 0, 5), Token(",", 5, 6), Token("world", 7, 12), Token("!", 12, 13)]


def test_non_latin_scripts_are_words() -> None:
    assert token_texts("Москва — столица") == ["москва", "—", "столица"]
    assert token_texts("Ελλάδα")[0] == normalize("ελλάδα")
    # Devanagari vowel signs are combining marks: the word must not be split.
    assert len(token_texts("हिन्दी भाषा")) == 2
    # CJK: one token per character, voiced kana stay one token after NFD.
    assert token_texts("東京です") == ["東", "京", normalize("で"), "す"]


def test_nfd_makes_composed_and_decomposed_forms_equal() -> None:
    composed = "café"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert token_texts(composed) == token_texts(decomposed)
    t = tokenize(decomposed)[0]
    assert (t.start, t.end) == (0, 5)


def test_empty_and_punctuation_only() -> None:
    assert tokenize("") == []
    assert tokenize("   \n\t ") == []
    assert [t.text for t in tokenize("?!...")] == ["?", "!", ".", ".", "."]
    assert ngrams(token_texts("?!... ,,")) == []
    assert ngrams([]) == []


def test_very_long_document() -> None:
    text = " ".join(f"word{i % 1000}" for i in range(200_000))
    toks = tokenize(text)
    assert len(toks) == 200_000
    assert toks[-1].end == len(text)
    assert len(ngrams([t.text for t in toks])) == 2 * 200_000 - 1


def test_filterable() -> None:
    assert is_filterable("the") and is_filterable(",") and is_filterable("$")
    assert not is_filterable("paris") and not is_filterable("7") and not is_filterable("x")
    assert {"the", "of", "and", "is"} <= STOPWORDS


def test_ngram_filter_modes() -> None:
    toks = token_texts("The cat sat on the mat.")
    assert ngrams(toks, 1) == ["cat", "sat", "mat"]
    assert ngrams(toks, 2, "any") == ["cat", "sat", "mat", "cat sat"]
    both = ngrams(toks, 2, "all")
    assert "the cat" in both and "sat on" in both and "mat ." in both and "on the" not in both
    tri = ngrams(toks, 3, "any")
    assert "cat sat" in tri and not any(g.count(" ") == 2 for g in tri)
    assert "cat sat on" in ngrams(toks, 3, "all")
    with pytest.raises(ValueError):
        ngrams(toks, 0)
    with pytest.raises(ValueError):
        ngrams(toks, 2, "some")  # type: ignore[arg-type]


def test_batch_helpers_match_single() -> None:
    assert tokenize_batch(SAMPLES) == [tokenize(s) for s in SAMPLES]
    assert ngrams_of_texts(SAMPLES) == [ngrams(token_texts(s)) for s in SAMPLES]


def test_ascii_fast_path_equals_full_tokenizer() -> None:
    import random

    from drqa_ng.retrieval import tokenize as tk

    rng = random.Random(0)
    alphabet = [chr(i) for i in range(128)] + ["a", "b", "Z", "9", " "] * 10
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        assert text.isascii()
        assert token_texts(text) == tk._TOKEN_RE.findall(normalize(text)) == [t.text for t in tokenize(text)]
