"""Teacher → student distillation for the span reader, across tokenizers.

The teacher (e.g. a fine-tuned MPNet) labels a (question, context) with its ``TOP`` highest start and
end logits, each at a *character* (``data.TeacherLabel``): ``label_examples``. The student (MiniLM,
another vocabulary) turns a label into soft targets over the tokens of each of its windows:
``soft_targets``. The student's loss on them is DistilBERT's / TinyBERT's task distillation,
``distill_loss``; ``train.span_loss`` mixes it with the gold-span cross-entropy where a gold answer
exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.errors import InputError
from drqa_ng.protocols import PassageStore, Retriever
from drqa_ng.reading.data import QAExample, TeacherLabel
from drqa_ng.reading.features import Windows, make_windows

TOP = 16  # teacher logits kept per example and side (start / end)
TEMPERATURE = 2.0


def teacher_probs(logits: Sequence[float], temperature: float) -> np.ndarray:
    """softmax(logits / T) over the kept logits (the rest of the teacher's mass is dropped)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = np.exp(z - z.max())
    return z / z.sum()


def _token_at(offsets: np.ndarray, ctx: np.ndarray, char: int, side: int) -> int:
    """The context token of one window that holds ``char`` (side 0: a start char, the token with
    start <= char < end; side 1: an exclusive end char, the token with start < char <= end); -1 if none."""
    s, e = offsets[ctx, 0], offsets[ctx, 1]
    hit = np.nonzero((s <= char) & (char < e))[0] if side == 0 else np.nonzero((s < char) & (char <= e))[0]
    return int(ctx[hit[0]]) if len(hit) else -1


def soft_targets(
    windows: Windows, labels: Sequence[TeacherLabel | None], k: int = TOP, temperature: float = TEMPERATURE
) -> tuple[np.ndarray, np.ndarray]:
    """Soft start/end targets of every window: ``(pos, prob)``, each ``(rows, 2, k)``.

    For window r of pair p with label L: the teacher's tempered probabilities (``teacher_probs``) are
    moved onto the window's tokens holding their characters (probabilities of characters in one token
    add up); the mass of characters outside the window goes to token 0 ([CLS]), as the hard target of
    a window without the answer does. Unused slots have ``pos`` -1 and ``prob`` 0; a pair without a
    label gives an all-zero row (no soft loss).
    """
    n = len(windows)
    pos = np.full((n, 2, k), -1, dtype=np.int32)
    prob = np.zeros((n, 2, k), dtype=np.float32)
    for r in range(n):
        label = labels[int(windows.pair[r])]
        if label is None:
            continue
        offs = windows.offsets[r]
        ctx = np.nonzero(offs[:, 0] >= 0)[0]
        for side, entries in enumerate((label.starts, label.ends)):
            if not entries:
                continue
            p = teacher_probs([v for _, v in entries], temperature)
            mass: dict[int, float] = {}
            for (char, _), q in zip(entries, p, strict=True):
                t = _token_at(offs, ctx, char, side) if len(ctx) else -1
                t = 0 if t < 0 else t
                mass[t] = mass.get(t, 0.0) + float(q)
            top = sorted(mass.items(), key=lambda x: -x[1])[:k]
            total = sum(q for _, q in top)
            for j, (t, q) in enumerate(top):
                pos[r, side, j] = t
                prob[r, side, j] = q / total
    return pos, prob


def distill_loss(start_logits: Any, end_logits: Any, pos: Any, prob: Any, temperature: float) -> Any:
    """Per-row soft cross-entropy of the student against the teacher's tempered distributions.

    loss_r = T² · ½ Σ_side Σ_j prob[r, side, j] · −log softmax(logits_side[r] / T)[pos[r, side, j]]

    (Hinton et al. 2015; DistilBERT's task distillation on start/end logits.) It differs from
    KL(teacher ‖ student) by the teacher's entropy, a constant; T² keeps its gradients on the scale of
    the hard loss. Rows whose ``prob`` is all zero give 0. ``pos`` -1 slots carry no probability.
    """
    import torch

    out = []
    for side, logits in enumerate((start_logits, end_logits)):
        logp = torch.log_softmax(logits.float() / temperature, dim=-1)
        idx = pos[:, side].clamp(min=0).long()
        out.append(-(prob[:, side] * logp.gather(1, idx)).sum(dim=1))
    return temperature**2 * (out[0] + out[1]) / 2


def label_examples(
    model: Any,
    tokenizer: Any,
    examples: Sequence[QAExample],
    max_length: int = 384,
    stride: int = 128,
    top: int = TOP,
    batch_size: int = 32,
    bf16: bool = False,
) -> Iterator[TeacherLabel]:
    """The teacher's label of each example, in order: over all its windows, the ``top`` highest start
    logits (at their tokens' first characters) and end logits (at their last characters + 1); a
    character seen in two overlapping windows keeps its higher logit. ``model`` is a ``SpanModel``;
    ``bf16`` runs it under bf16 autocast (as training does where bf16 is native: logits move by well
    under the 1/T-tempered gaps that matter)."""
    import torch

    device = next(model.parameters()).device
    model.eval()
    for i in range(0, len(examples), batch_size):
        part = examples[i : i + batch_size]
        win = make_windows(
            tokenizer, [e.question for e in part], [e.context for e in part], max_length, stride
        )
        starts: list[dict[int, float]] = [{} for _ in part]
        ends: list[dict[int, float]] = [{} for _ in part]
        # windows in length order, so each forward pass pads only to its own longest (rows() trims)
        order = np.argsort(win.attention_mask.sum(axis=1), kind="stable")
        for j in range(0, len(win), batch_size):
            w = win.rows(order[j : j + batch_size])
            with (
                torch.inference_mode(),
                torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16),
            ):
                s, e = model(
                    torch.as_tensor(w.input_ids, device=device),
                    torch.as_tensor(w.attention_mask, device=device),
                    torch.as_tensor(w.token_type_ids, device=device),
                )
            s_np, e_np = s.float().cpu().numpy(), e.float().cpu().numpy()
            for r in range(len(w)):
                p = int(w.pair[r])
                ctx = np.nonzero(w.offsets[r, :, 0] >= 0)[0]
                for t in ctx:
                    a, b = int(w.offsets[r, t, 0]), int(w.offsets[r, t, 1])
                    if s_np[r, t] > starts[p].get(a, -np.inf):
                        starts[p][a] = float(s_np[r, t])
                    if e_np[r, t] > ends[p].get(b, -np.inf):
                        ends[p][b] = float(e_np[r, t])
        for st, en in zip(starts, ends, strict=True):
            yield TeacherLabel(
                tuple(sorted(st.items(), key=lambda x: -x[1])[:top]),
                tuple(sorted(en.items(), key=lambda x: -x[1])[:top]),
            )


def label_file(
    teacher: Path,
    files: Sequence[Path],
    out: Path,
    exclude_titles: Collection[str] = (),
    squad_articles: Collection[str] | None = None,
    max_length: int = 384,
    stride: int = 128,
    top: int = TOP,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """``label-reader``: label every example of ``files`` with the ``teacher`` model folder and write
    them (unified layout + ``teacher``) to ``out``. Lines go to ``OUT.partial`` as they are made, so a
    killed run continues after its last whole batch; the file is renamed into place at the end.
    ``squad_articles`` keeps only those titles of SQuAD JSON files (a train split).
    Returns (examples written, of which labelled by an earlier run)."""
    import gzip
    import json

    from drqa_ng.reading.data import load_examples
    from drqa_ng.reading.model import bf16_is_fast, load_model, load_tokenizer

    if not out.name.endswith((".jsonl", ".jsonl.gz")):
        raise InputError(f"--out must end in .jsonl or .jsonl.gz: {out}")

    def _squad(f: Path) -> bool:
        return Path(f).name.removesuffix(".gz").endswith(".json")

    # as train-reader selects its sources: a SQuAD JSON keeps its listed (train) articles, whose titles
    # are SQuAD dev titles too; ``exclude_titles`` keeps those out of the JSONL files only
    examples = [
        e
        for f in files
        for e in load_examples(
            f,
            articles=squad_articles if _squad(f) else None,
            exclude_titles=() if _squad(f) and squad_articles is not None else exclude_titles,
            unanswered=True,  # retrieved paragraphs come without gold: the teacher labels them
        )
    ]
    if not examples:
        raise InputError(f"no examples to label in {', '.join(map(str, files))} after the article filters")
    partial = out.with_name(out.name + ".partial")
    done = 0
    if partial.is_file():
        with partial.open(encoding="utf-8") as f:
            lines = f.read().split("\n")
        whole = [ln for ln in lines[:-1] if ln]  # the last piece may be half-written
        partial.write_text("".join(ln + "\n" for ln in whole), encoding="utf-8")
        done = len(whole)
    if progress and done:
        progress(done)
    model = load_model(teacher)
    tokenizer = load_tokenizer(teacher)
    bf16 = bf16_is_fast(next(model.parameters()).device.type)
    with partial.open("a", encoding="utf-8") as w:
        for i in range(done, len(examples), batch_size):
            part = examples[i : i + batch_size]
            for ex, label in zip(
                part,
                label_examples(model, tokenizer, part, max_length, stride, top, batch_size, bf16),
                strict=True,
            ):
                rec: dict[str, object] = {
                    "id": ex.id,
                    "title": ex.title,
                    "question": ex.question,
                    "context": ex.context,
                }
                if ex.has_gold:
                    rec["answers"] = [
                        {"text": t, "answer_start": s}
                        for t, s in zip(ex.answers, ex.answer_starts, strict=True)
                    ]
                rec["teacher"] = label.as_json()
                w.write(json.dumps(rec, ensure_ascii=False) + "\n")
            w.flush()
            if progress:
                progress(len(part))
    opener = gzip.open if out.name.endswith(".gz") else open
    tmp = out.with_name(out.name + ".tmp")
    with partial.open(encoding="utf-8") as r, opener(tmp, "wt", encoding="utf-8") as w2:
        for line in r:
            w2.write(line)
    tmp.replace(out)
    partial.unlink()
    return len(examples), done


def first_answer(text: str, patterns: Sequence[re.Pattern[str]]) -> tuple[str, int] | None:
    """The earliest non-empty match of any of ``patterns`` in ``text`` as (answer text, char offset)."""
    best: re.Match[str] | None = None
    for pat in patterns:
        m = next((m for m in pat.finditer(text) if m.group(0).strip()), None)
        if m is not None and (best is None or m.start() < best.start()):
            best = m
    return (best.group(0), best.start()) if best is not None else None


def write_retrieved(
    questions: Sequence[tuple[str, str]],
    retriever: Retriever,
    store: PassageStore,
    out: Path,
    k: int = 3,
    exclude_prefixes: Sequence[str] = (),
    source: str = "retrieved",
    batch_size: int = 256,
    progress: Callable[[int], object] | None = None,
    patterns: Sequence[Sequence[re.Pattern[str]]] | None = None,
) -> int:
    """Write each ``(id, question)``'s top ``k`` retrieved units as examples without an answer (unified
    layout, ``answers`` empty) for ``label-reader``: distillation needs no gold, so every retrieved
    paragraph teaches the student how the teacher reads it, right paragraph or not. Units of documents
    whose id starts with one of ``exclude_prefixes`` are skipped. Returns the number written.

    ``patterns`` (one list per question, ``distant.answer_patterns``) marks the answers: a unit where one
    matches gets that span as its answer, and when any unit of the question has one, the others are
    written with ``"negative": true`` (the question's windows then train together under
    ``train-reader --shared-norm``); a question without a match is written as without ``patterns``."""
    import gzip
    import json

    if k < 1:
        raise InputError(f"-k must be >= 1, got {k}")
    prefixes = tuple(exclude_prefixes)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    opener = gzip.open if out.name.endswith(".gz") else open
    n = 0
    with opener(tmp, "wt", encoding="utf-8") as f:
        for i in range(0, len(questions), batch_size):
            batch = questions[i : i + batch_size]
            hits = retriever.search([q for _, q in batch], k + 5 if prefixes else k)
            kept = [[h for h in hs if not (prefixes and h.doc_id.startswith(prefixes))][:k] for hs in hits]
            flat = store.get_passages([h.id for hs in kept for h in hs])
            pos = 0
            for j, ((qid, q), hs) in enumerate(zip(batch, kept, strict=True)):
                units = [(rank, p) for rank, p in enumerate(flat[pos : pos + len(hs)]) if p is not None]
                pats = patterns[i + j] if patterns is not None else ()
                spans = [first_answer(p.text, pats) for _, p in units]
                marked = any(sp is not None for sp in spans)
                for (rank, p), sp in zip(units, spans, strict=True):
                    rec: dict[str, object] = {
                        "id": f"{qid}#r{rank}",
                        "source": source,
                        "title": p.title,
                        "context": p.text,
                        "question": q,
                        "answers": [{"text": sp[0], "answer_start": sp[1]}] if sp is not None else [],
                        "retrieved": {"unit": p.id, "rank": rank},
                    }
                    if marked and sp is None:
                        rec["negative"] = True
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
                pos += len(hs)
            if progress is not None:
                progress(len(batch))
    tmp.replace(out)
    return n
