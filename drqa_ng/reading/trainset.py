"""The data side of reader fine-tuning: the run's settings (``TrainConfig``), its weighted sources,
their token windows (built once and cached on disk) and the order they are drawn in.

Data order: each epoch draws ``round(weight * windows)`` windows of every source (without
replacement up to its size, whole copies beyond), then makes length-bucketed batches, all from a
generator seeded with ``(seed, epoch)``; so the position in the data is ``(epoch, batch)``.
``drqa_ng.reading.train`` runs the loop over them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.reading.data import QAExample
from drqa_ng.reading.features import answer_positions, make_windows

PRECISIONS = ("auto", "fp32", "bf16")
# settings that change when things are logged or saved, never the weights: a continued run may change them
BOOKKEEPING = ("threads", "save_every", "save_minutes", "eval_every", "log_every")


@dataclass(frozen=True, slots=True)
class TrainConfig:
    max_length: int = 384
    stride: int = 128
    max_answer_len: int = 30
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: float = 0.1
    epochs: float = 2.0
    max_steps: int | None = None
    save_every: int = 100
    save_minutes: float = 10.0
    eval_every: int | None = None
    log_every: int = 10
    dev_limit: int | None = None
    seed: int = 13
    threads: int | None = None
    precision: str = "auto"
    hard_weight: float = 0.5  # α: share of the gold-span loss where a teacher label exists too
    temperature: float = 2.0  # T of the distillation loss (reading.distill)
    shared_norm: bool = False  # one softmax over all windows of a question (train.span_loss)


@dataclass(frozen=True, slots=True)
class TrainSource:
    """One training file's examples and its sampling weight (windows drawn per epoch = weight x windows)."""

    name: str
    examples: Sequence[QAExample]
    weight: float = 1.0


@dataclass(frozen=True)
class TrainWindows:
    """Training windows in compact arrays: token ids padded to ``max_length``, true lengths, targets;
    ``gold`` marks rows whose example has a gold answer, ``soft_pos``/``soft_prob`` hold the teacher's
    soft start/end targets (``reading.distill.soft_targets``; all-zero probabilities = no teacher)."""

    input_ids: np.ndarray  # (rows, max_length) int32
    token_type_ids: np.ndarray  # (rows, max_length) int8
    lengths: np.ndarray  # (rows,) int32
    targets: np.ndarray  # (rows, 2) int64 start/end token, (0, 0) = answer not in the window
    gold: np.ndarray  # (rows,) int8
    soft_pos: np.ndarray  # (rows, 2, TOP) int32
    soft_prob: np.ndarray  # (rows, 2, TOP) float32
    group: np.ndarray  # (rows,) int64: the question a window belongs to (``question_group``), per source

    def __len__(self) -> int:
        return int(self.lengths.shape[0])


def build_features(
    tokenizer: object, examples: Sequence[QAExample], cfg: TrainConfig, chunk: int = 2000
) -> TrainWindows:
    """Windows of every example plus (start, end) token targets, built ``chunk`` examples at a time;
    soft targets where an example carries a teacher label (at ``cfg.temperature``); each window's
    question group (``question_group``), numbered in order of first appearance."""
    from drqa_ng.reading.distill import TOP, soft_targets

    numbers: dict[str, int] = {}
    ex_group = np.array([numbers.setdefault(question_group(e.id), len(numbers)) for e in examples], np.int64)
    ids, tts, lens, tgts, golds, spos, sprob, grps = [], [], [], [], [], [], [], []
    for i in range(0, len(examples), chunk):
        part = examples[i : i + chunk]
        win = make_windows(
            tokenizer, [e.question for e in part], [e.context for e in part], cfg.max_length, cfg.stride
        )
        has = np.array([e.has_gold for e in part], dtype=bool)
        starts = [e.answer_starts[0] if e.has_gold else 0 for e in part]
        ends = [e.answer_starts[0] + len(e.answers[0]) if e.has_gold else 0 for e in part]
        t = answer_positions(win, starts, ends)
        t[~has[win.pair]] = 0
        tgts.append(t)
        golds.append(has[win.pair].astype(np.int8))
        grps.append(ex_group[i : i + chunk][win.pair])
        pos, prob = soft_targets(win, [e.teacher for e in part], TOP, cfg.temperature)
        spos.append(pos)
        sprob.append(prob)
        pad = cfg.max_length - win.input_ids.shape[1]
        ids.append(np.pad(win.input_ids, ((0, 0), (0, pad))).astype(np.int32))
        tts.append(np.pad(win.token_type_ids, ((0, 0), (0, pad))).astype(np.int8))
        lens.append(win.attention_mask.sum(axis=1).astype(np.int32))
    if not ids:
        return TrainWindows(
            np.zeros((0, cfg.max_length), np.int32),
            np.zeros((0, cfg.max_length), np.int8),
            np.zeros(0, np.int32),
            np.zeros((0, 2), np.int64),
            np.zeros(0, np.int8),
            np.zeros((0, 2, TOP), np.int32),
            np.zeros((0, 2, TOP), np.float32),
            np.zeros(0, np.int64),
        )
    return TrainWindows(*(np.concatenate(a) for a in (ids, tts, lens, tgts, golds, spos, sprob, grps)))


def question_group(example_id: str) -> str:
    """The question an example belongs to: its id up to the first "#" (``distant-supervise`` names a
    question's retrieved paragraphs ``ID#r0``, ``ID#r1``, ...; its gold paragraph ``ID``)."""
    return example_id.split("#", 1)[0]


TRAIN_ARRAYS = ("input_ids", "token_type_ids", "lengths", "targets", "gold", "soft_pos", "soft_prob", "group")


def concat_windows(parts: Sequence[TrainWindows]) -> TrainWindows:
    """The rows of ``parts`` in order, as one ``TrainWindows``; group numbers offset so that groups
    of different sources never share a number."""
    groups, offset = [], 0
    for p in parts:
        groups.append(np.asarray(p.group, dtype=np.int64) + offset)
        offset += int(p.group.max()) + 1 if len(p.group) else 0
    arrays = {a: np.concatenate([getattr(p, a) for p in parts]) for a in TRAIN_ARRAYS[:-1]}
    return TrainWindows(**arrays, group=np.concatenate(groups) if groups else np.zeros(0, np.int64))


FEATURES_KIND = "reader-train-features"
FEATURES_VERSION = 3  # 2: gold mask and teacher soft targets; 3: question groups


def features_key(tokenizer: Any, examples: Sequence[QAExample], cfg: TrainConfig) -> str:
    """sha256 of everything the windows depend on: tokenizer, window settings, each example's text and target."""
    h = hashlib.sha256()
    # the vocabulary, not the serialised tokenizer: that also holds the last call's padding settings
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    h.update(f"{type(tokenizer).__name__}{sorted(vocab.items())}".encode())
    h.update(f"{cfg.max_length}/{cfg.stride}/{len(examples)}/{cfg.temperature}".encode())
    for e in examples:
        h.update(f"\x00{e.question}\x01{e.context}\x01{e.answers[:1]}\x01{e.answer_starts[:1]}".encode())
        h.update(f"\x04{question_group(e.id)}".encode())
        if e.teacher is not None:
            h.update(f"\x02{e.teacher.starts}\x03{e.teacher.ends}".encode())
    return h.hexdigest()


def cached_features(
    folder: Path, name: str, tokenizer: Any, examples: Sequence[QAExample], cfg: TrainConfig
) -> TrainWindows:
    """``build_features``, stored once in ``folder/NAME-KEY/`` (.npy + manifest) and mmap-loaded after.

    Tokenising tens of thousands of examples takes minutes on a busy CPU; a resumed run reads them back.
    """
    from drqa_ng.index_io import atomic_dir, read_manifest, write_manifest

    key = features_key(tokenizer, examples, cfg)
    path = Path(folder) / f"{name}-{key[:16]}"
    arrays = TRAIN_ARRAYS
    if (path / "manifest.json").is_file() and read_manifest(path, FEATURES_KIND, FEATURES_VERSION).get(
        "key"
    ) == key:
        return TrainWindows(*(np.load(path / f"{a}.npy", mmap_mode="r", allow_pickle=False) for a in arrays))
    feats = build_features(tokenizer, examples, cfg)
    with atomic_dir(path) as tmp:
        for a in arrays:
            np.save(tmp / f"{a}.npy", getattr(feats, a), allow_pickle=False)
        write_manifest(
            tmp,
            FEATURES_KIND,
            FEATURES_VERSION,
            key=key,
            source=name,
            windows=len(feats),
            examples=len(examples),
        )
    return feats


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, pool: int = 50
) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort inside pools of ``pool`` batches, shuffle batches.

    Similar lengths in a batch cut padding (CPU time) without giving up random order across the epoch.
    """
    perm = rng.permutation(len(lengths))
    batches: list[np.ndarray] = []
    span = batch_size * pool
    for i in range(0, len(perm), span):
        chunk = perm[i : i + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    order = rng.permutation(len(batches))
    return [batches[k] for k in order]


def draws_per_epoch(counts: Sequence[int], weights: Sequence[float]) -> list[int]:
    """Windows drawn from each source per epoch: ``round(weight_i * count_i)``."""
    return [round(w * n) for n, w in zip(counts, weights, strict=True)]


def epoch_rows(counts: Sequence[int], weights: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Global row indices of one epoch's mix: each source's draw without replacement up to its size,
    whole copies beyond (weight 2.5 = every window twice + half of them once more)."""
    rows: list[np.ndarray] = []
    offset = 0
    for n, k in zip(counts, draws_per_epoch(counts, weights), strict=True):
        if n:
            full, rest = divmod(k, n)
            part = [np.arange(n)] * full + [rng.choice(n, size=rest, replace=False)]
            rows.extend(r + offset for r in part)
        offset += n
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)


def epoch_group_rows(
    groups: np.ndarray, counts: Sequence[int], weights: Sequence[float], rng: np.random.Generator
) -> list[np.ndarray]:
    """One epoch's mix drawn by question group: each source's ``round(weight x groups)`` groups (without
    replacement up to its number of groups, whole copies beyond), each as the global rows of its windows."""
    out: list[np.ndarray] = []
    offset = 0
    for n, w in zip(counts, weights, strict=True):
        if n:
            g = np.asarray(groups[offset : offset + n])
            order = np.argsort(g, kind="stable")
            cuts = np.flatnonzero(np.diff(g[order])) + 1
            members = [offset + m for m in np.split(order, cuts)]
            full, rest = divmod(round(w * len(members)), len(members))
            picks = [np.arange(len(members))] * full + [rng.choice(len(members), size=rest, replace=False)]
            out.extend(members[int(i)] for i in np.concatenate(picks))
        offset += n
    return out


def group_batches(
    lengths: np.ndarray,
    members: Sequence[np.ndarray],
    batch_size: int,
    rng: np.random.Generator,
    pool: int = 50,
) -> list[np.ndarray]:
    """Batches of whole question groups (a group longer than ``batch_size`` windows is cut into
    pieces): groups shuffled, sorted by their longest window inside pools of ~``pool`` batches, packed
    in that order while they fit, then the batches shuffled (as ``bucketed_batches``)."""
    pieces = [m[i : i + batch_size] for m in members for i in range(0, len(m), batch_size)]
    perm = rng.permutation(len(pieces))
    batches: list[np.ndarray] = []
    i = 0
    while i < len(perm):
        chunk, size = [], 0
        while i < len(perm) and size < batch_size * pool:
            chunk.append(pieces[perm[i]])
            size += len(pieces[perm[i]])
            i += 1
        chunk.sort(key=lambda m: int(lengths[m].max()))
        cur: list[np.ndarray] = []
        filled = 0
        for m in chunk:
            if cur and filled + len(m) > batch_size:
                batches.append(np.concatenate(cur))
                cur, filled = [], 0
            cur.append(m)
            filled += len(m)
        if cur:
            batches.append(np.concatenate(cur))
    order = rng.permutation(len(batches))
    return [batches[k] for k in order]


def epoch_batches(
    lengths: np.ndarray,
    counts: Sequence[int],
    weights: Sequence[float],
    batch_size: int,
    seed: int,
    epoch: int,
    groups: np.ndarray | None = None,
) -> list[np.ndarray]:
    """The batches (global row indices) of ``epoch``: a pure function of its arguments. With ``groups``
    (shared-norm training) the mix is drawn by question and a question's windows share a batch."""
    rng = np.random.default_rng([seed, epoch])
    if groups is not None:
        return group_batches(lengths, epoch_group_rows(groups, counts, weights, rng), batch_size, rng)
    rows = epoch_rows(counts, weights, rng)
    return [rows[b] for b in bucketed_batches(lengths[rows], batch_size, rng)]
