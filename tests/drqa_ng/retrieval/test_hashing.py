from __future__ import annotations

import mmh3
import numpy as np
import pytest

from drqa_ng.retrieval.hashing import HashSpec, bucket_counts, hash_features, text_buckets


def test_hash_is_unsigned_murmur3_like_drqa() -> None:
    from sklearn.utils import murmurhash3_32  # what DrQA uses

    feats = ["paris", "eiffel tower", "москва", "東 京", ""]
    big = hash_features(feats, 2**32)
    assert big.tolist() == [murmurhash3_32(f, positive=True) for f in feats]
    assert big.tolist() == [mmh3.hash(f, 0, signed=False) for f in feats]
    small = hash_features(feats, 1000)
    assert small.dtype == np.int64 and (small == big % 1000).all()


def test_empty_input() -> None:
    assert hash_features([], 16).shape == (0,)
    spec = HashSpec(buckets=16)
    assert text_buckets("", spec).shape == (0,)
    assert text_buckets("the of , .", spec).shape == (0,)


def test_buckets_in_range_and_deterministic() -> None:
    spec = HashSpec(buckets=97)
    a = text_buckets("The Eiffel Tower is in Paris; Москва, 東京.", spec)
    assert len(a) > 0 and a.min() >= 0 and a.max() < 97
    assert (a == text_buckets("The Eiffel Tower is in Paris; Москва, 東京.", spec)).all()


def test_unigrams_and_bigrams_counted() -> None:
    spec = HashSpec(buckets=2**24)
    [(u, c)] = bucket_counts(["cat cat dog"], spec)
    expected = hash_features(["cat", "dog", "cat cat", "cat dog"], 2**24)
    assert sorted(u.tolist()) == sorted(set(expected.tolist()))
    assert c.sum() == 5  # cat x2, dog, "cat cat", "cat dog"
    assert len(text_buckets("cat cat dog", HashSpec(buckets=2**24, ngrams=1))) == 3


@pytest.mark.parametrize("kwargs", [{"buckets": 0}, {"ngrams": 0}, {"ngrams": 4}, {"filter_mode": "x"}])
def test_spec_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        HashSpec(**kwargs)  # type: ignore[arg-type]
