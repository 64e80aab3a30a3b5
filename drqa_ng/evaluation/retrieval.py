"""Retrieval quality: top-k answer recall of one or more retrievers on a question set.

recall@k = (1/|Q|) Σ_q 1[∃ i ≤ k: answer(q) occurs in the text of the i-th retrieved unit]

"occurs" is DrQA/DPR's ``has_answer`` (normalised token subsequence), or a regular-expression
search (``regex_in_text``) for CuratedTREC's regex answers, as in DrQA's ``--regex`` mode
(Chen et al., "Reading Wikipedia to Answer Open-Domain Questions", ACL 2017; Karpukhin et al.,
"Dense Passage Retrieval", EMNLP 2020, top-k retrieval accuracy).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from drqa_ng.errors import InputError
from drqa_ng.evaluation.datasets import Question
from drqa_ng.evaluation.metrics import passage_match
from drqa_ng.protocols import PassageStore, Retriever
from drqa_ng.types import Hit

log = logging.getLogger(__name__)

DEFAULT_KS: tuple[int, ...] = (1, 5, 20, 100)
METRICS_FILE = "retrieval_metrics.json"


@dataclass(frozen=True, slots=True)
class SystemRecall:
    """Recall of one retriever (or fusion) at each k, aligned with ``RetrievalReport.ks``."""

    name: str
    recall: tuple[float, ...]
    hits: tuple[int, ...]
    """Questions answered within top-k, per k."""
    seconds: float
    """Wall time of all searches for this system."""


@dataclass(frozen=True, slots=True)
class RetrievalReport:
    questions: int
    ks: tuple[int, ...]
    regex: bool
    systems: tuple[SystemRecall, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def table(self) -> str:
        """A Markdown table: one row per system, one column per k."""
        head = "| system | " + " | ".join(f"R@{k}" for k in self.ks) + " | seconds |"
        sep = "|---" * (len(self.ks) + 2) + "|"
        rows = [
            f"| {s.name} | " + " | ".join(f"{r:.3f}" for r in s.recall) + f" | {s.seconds:.1f} |"
            for s in self.systems
        ]
        return "\n".join([head, sep, *rows])


def first_answer_rank(
    hits: Sequence[Hit], texts: Mapping[str, str], answers: Sequence[str], regex: bool = False
) -> int | None:
    """0-based rank of the first hit whose text contains an answer; None if none does."""
    for rank, hit in enumerate(hits):
        text = texts.get(hit.id, "")
        if passage_match(text, answers, regex):
            return rank
    return None


def recall_at_k(first_ranks: Sequence[int | None], ks: Sequence[int]) -> tuple[float, ...]:
    """recall@k = fraction of questions whose first answer-bearing rank r (0-based) has r < k."""
    n = len(first_ranks)
    if n == 0:
        return tuple(0.0 for _ in ks)
    return tuple(sum(1 for r in first_ranks if r is not None and r < k) / n for k in ks)


def evaluate_retrieval(
    questions: Sequence[Question],
    systems: Mapping[str, Retriever],
    passages: PassageStore,
    ks: Sequence[int] = DEFAULT_KS,
    regex: bool = False,
    batch_size: int = 256,
    on_ranked: Callable[[str, Sequence[Sequence[Hit]]], None] | None = None,
) -> RetrievalReport:
    """Search every system with all questions (batched) to max(ks) and measure recall@k.

    ``on_ranked(name, ranked)`` receives each system's ranked lists (e.g. to write a TREC run file).
    """
    if not questions:
        raise InputError("no questions to evaluate")
    if not systems:
        raise InputError("no retrievers to evaluate")
    ks = tuple(sorted(set(int(k) for k in ks)))
    if ks[0] < 1:
        raise InputError(f"k values must be >= 1, got {ks}")
    depth = ks[-1]
    texts: dict[str, str] = {}
    results: list[SystemRecall] = []
    for name, retriever in systems.items():
        t0 = time.perf_counter()
        ranked: list[list[Hit]] = []
        for a in range(0, len(questions), batch_size):
            ranked.extend(retriever.search([q.question for q in questions[a : a + batch_size]], depth))
        seconds = time.perf_counter() - t0
        if on_ranked is not None:
            on_ranked(name, ranked)
        missing = list(dict.fromkeys(h.id for hits in ranked for h in hits if h.id not in texts))
        for uid, p in zip(missing, passages.get_passages(missing), strict=True):
            texts[uid] = p.text if p is not None else ""
        firsts = [
            first_answer_rank(hits, texts, q.answers, regex)
            for q, hits in zip(questions, ranked, strict=True)
        ]
        rec = recall_at_k(firsts, ks)
        hits_at = tuple(round(r * len(questions)) for r in rec)
        log.info(
            "%s: %s in %.1f s",
            name,
            " ".join(f"R@{k}={r:.3f}" for k, r in zip(ks, rec, strict=True)),
            seconds,
        )
        results.append(SystemRecall(name, rec, hits_at, round(seconds, 3)))
    return RetrievalReport(len(questions), ks, regex, tuple(results))


def write_report(report: RetrievalReport, out_dir: Path) -> tuple[Path, Path]:
    """Write ``retrieval_metrics.json`` and ``recall_at_k.png`` into ``out_dir``; returns both paths."""
    from drqa_ng.evaluation.plots import plot_recall_curves

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = out_dir / METRICS_FILE
    metrics.write_text(report.to_json())
    curves = [(s.name, s.recall) for s in report.systems]
    png = plot_recall_curves(report.ks, curves, report.questions, report.regex, out_dir / "recall_at_k.png")
    return metrics, png
