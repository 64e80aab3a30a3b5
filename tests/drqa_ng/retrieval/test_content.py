from __future__ import annotations

from collections.abc import Sequence

import pytest

from drqa_ng.retrieval.content import content_words, has_content, known_fraction, visible

CORPUS = {"berlin", "capital", "germany", "hamlet", "play", "shakespeare", "wibble"}


def known(words: Sequence[str]) -> list[bool]:
    return [w in CORPUS for w in words]


def test_visible_drops_control_and_zero_width_characters() -> None:
    assert visible("a\u200bb\x00c\ufeffd\u2060e") == "abcde"
    assert visible("tab\tand newline\n") == "tab\tand newline\n"


def test_content_words_drop_stopwords_punctuation_and_invisible_characters() -> None:
    assert content_words("What is the capital of Germany?") == ["capital", "germany"]
    assert content_words("Who is the Ger\u200bmany king, the king?") == ["germany", "king"]
    assert content_words("What is it?") == []


@pytest.mark.parametrize(
    "question", ["\u200b\u200b\u200c", "\x01\x02\x03", "?!?", "\ufeff \u2060", "who is the what?"]
)
def test_questions_without_content_words_have_no_content(question: str) -> None:
    assert content_words(question) == []
    assert not has_content(question, known)
    assert not has_content(question)  # even without a word list


def test_known_fraction_is_the_share_of_known_words() -> None:
    assert known_fraction(["capital", "germany"], known) == 1.0
    assert known_fraction(["hamlet", "zxcv"], known) == 0.5
    assert known_fraction([], known) == 0.0


def test_has_content_needs_half_of_the_words_known() -> None:
    assert has_content("What is the capital of Germany?", known)
    assert has_content("Is Shakespeare in Hamlett?", known)  # 1 unknown word of 2
    assert not has_content("asdf qwer zxcv?", known)
    assert not has_content("xqzv blorf wibble?", known)  # 1 known of 3
    assert has_content("asdf qwer zxcv?")  # no word list: only the no-words rule applies
