from __future__ import annotations

from pathlib import Path

import numpy as np

from drqa_ng.reading.features import MAX_QUESTION_TOKENS, answer_positions, make_windows
from drqa_ng.reading.model import load_tokenizer


def test_offsets_map_tokens_back_to_non_ascii_text(tiny_encoder_dir: Path) -> None:
    tok = load_tokenizer(tiny_encoder_dir)
    passage = "Zoë Müller runs the café «Über» in Zürich — since 1999."
    w = make_windows(tok, ["Who runs the café?"], [passage], max_length=64, stride=16)
    assert len(w) == 1
    ctx = w.offsets[0][w.context_mask[0]]
    pieces = [passage[a:b] for a, b in ctx]
    assert "Zoë" in "".join(pieces) or pieces[0].startswith("Zo")
    # every context token maps to a non-empty slice, in order, covering the words
    assert all(b > a for a, b in ctx)
    assert np.all(np.diff(ctx[:, 0]) >= 0)
    assert passage[ctx[0, 0] : ctx[-1, 1]] == passage.rstrip()
    # question tokens carry no passage offsets
    assert not w.context_mask[0, 1]


def test_long_passage_is_split_with_stride_and_answer_lands_in_second_window(tiny_encoder_dir: Path) -> None:
    tok = load_tokenizer(tiny_encoder_dir)
    filler = " ".join(f"word{i}" for i in range(40))
    passage = filler + " The zebra lives in Kenya. " + filler
    cs = passage.index("zebra")
    w = make_windows(
        tok, ["Where does the zebra live?", "short?"], [passage, "tiny text"], max_length=48, stride=8
    )
    assert len(w) > 3
    assert list(w.pair).count(1) == 1 and w.pair[-1] == 1
    rows0 = np.nonzero(w.pair == 0)[0]
    # consecutive windows overlap by exactly `stride` tokens of the passage
    a = [tuple(o) for o in w.offsets[rows0[0]][w.context_mask[rows0[0]]]]
    b = [tuple(o) for o in w.offsets[rows0[1]][w.context_mask[rows0[1]]]]
    assert a[-8:] == b[:8]
    pos = answer_positions(w, [cs, 0], [cs + len("zebra"), 4])
    hits = [r for r in rows0 if pos[r, 0] > 0]
    assert hits and hits[0] != rows0[0]
    r = hits[0]
    assert passage[w.offsets[r, pos[r, 0], 0] : w.offsets[r, pos[r, 1], 1]] == "zebra"
    # the answer "tiny" of pair 1 is found in its single window
    r1 = int(np.nonzero(w.pair == 1)[0][0])
    assert "tiny text"[w.offsets[r1, pos[r1, 0], 0] : w.offsets[r1, pos[r1, 1], 1]] == "tiny"


def test_rows_trim_padding(tiny_encoder_dir: Path) -> None:
    tok = load_tokenizer(tiny_encoder_dir)
    w = make_windows(tok, ["a?", "b?"], ["one two three four five six seven", "x"], max_length=64, stride=16)
    sub = w.rows(np.array([1]))
    assert sub.input_ids.shape[1] == int(w.attention_mask[1].sum()) < w.input_ids.shape[1]


def test_overlong_question_is_clipped_not_an_error(tiny_encoder_dir: Path) -> None:
    tok = load_tokenizer(tiny_encoder_dir)
    q = " ".join(["why"] * (MAX_QUESTION_TOKENS * 3))
    w = make_windows(tok, [q], ["the answer is here"], max_length=96, stride=16)
    assert w.context_mask[0].sum() == 4
