"""Plots of evaluation results (matplotlib, Agg backend: no display needed).

The plots take plain values (not the report types of ``retrieval``/``calibration``), so the modules
that compute results import this one and never the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def plot_recall_curves(
    ks: Sequence[int],
    curves: Sequence[tuple[str, Sequence[float]]],
    questions: int,
    regex: bool,
    path: Path,
) -> Path:
    """One recall@k curve per ``(system name, recall at each k)`` (log-scaled k axis) saved as PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # headless: never try to open a window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    try:
        for name, recall in curves:
            ax.plot(ks, recall, marker="o", label=name)
        if len(ks) > 1:
            ax.set_xscale("log")
        ax.set_xticks(list(ks), [str(k) for k in ks])
        ax.set_ylim(0.0, 1.0)
        ax.set_xlabel("k (retrieved units)")
        ax.set_ylabel("top-k answer recall" + (" (regex)" if regex else ""))
        ax.set_title(f"Retrieval recall@k, {questions} questions")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # headless: never try to open a window
    import matplotlib.pyplot as plt

    return plt


def plot_reliability(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray]], path: Path, bins: int = 10, title: str = ""
) -> Path:
    """Reliability diagram: per confidence bin, accuracy against mean confidence, one line per
    ``(label, confidence, correct)``; the diagonal is perfect calibration. Bar: share of answers per bin."""
    from drqa_ng.evaluation.calibration import expected_calibration_error, reliability_bins

    plt = _pyplot()
    fig, (ax, hx) = plt.subplots(2, 1, figsize=(5, 6), dpi=100, height_ratios=(3, 1), sharex=True)
    try:
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect")
        for label, conf, ok in curves:
            mean_conf, acc, counts = reliability_bins(conf, ok, bins)
            keep = counts > 0
            ece = expected_calibration_error(conf, ok, bins)
            ax.plot(mean_conf[keep], acc[keep], marker="o", label=f"{label} (ECE {ece:.3f}, n={len(conf)})")
            hx.bar(
                (np.arange(bins) + 0.5) / bins,
                counts / max(counts.sum(), 1),
                width=1 / bins,
                alpha=0.5,
                label=label,
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy (EM of the top answer)")
        ax.set_title(title or "Reliability of the top answer's confidence")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        hx.set_xlabel("confidence")
        hx.set_ylabel("share")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def plot_precision_coverage(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
    path: Path,
    threshold: float | None = None,
    title: str = "",
) -> Path:
    """Answered-question precision against coverage when answering only above a confidence threshold;
    one line per ``(label, confidence, correct)``; the chosen ``threshold`` is marked on each."""
    from drqa_ng.evaluation.calibration import precision_coverage

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    try:
        for label, conf, ok in curves:
            t, cov, prec = precision_coverage(conf, ok)
            line = ax.plot(cov, prec, label=label)[0]
            if threshold is not None and (t >= threshold).any():
                i = int(np.nonzero(t >= threshold)[0][-1])
                ax.plot([cov[i]], [prec[i]], marker="o", color=line.get_color())
                ax.annotate(
                    f"t={threshold:.2f}: cov {cov[i]:.2f}, prec {prec[i]:.2f}",
                    (cov[i], prec[i]),
                    fontsize=8,
                    xytext=(5, 5),
                    textcoords="offset points",
                )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("coverage (share of questions answered)")
        ax.set_ylabel("precision (EM of answered questions)")
        ax.set_title(title or "Precision vs coverage")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def plot_n_docs_curve(
    points: Sequence[tuple[int, float, float]],
    path: Path,
    budget_ms: float | None = None,
    title: str = "",
    latency_label: str = "p50 ms per question",
    baseline: Sequence[float] = (),
    questions: Sequence[int] = (),
) -> Path:
    """EM and p50 latency against the number of paragraphs read, from ``(n, em, p50_ms)`` points;
    ``baseline`` (dashed): EM of the smallest n on each point's questions; ``questions``: per-point counts."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    try:
        ns = [p[0] for p in points]
        ax.plot(ns, [p[1] for p in points], marker="o", color="#4c72b0", label="EM")
        if baseline:
            ax.plot(
                ns,
                baseline,
                marker="x",
                linestyle="--",
                color="#4c72b0",
                label=f"EM at n={ns[0]}, same questions",
            )
        for n, em, q in zip(ns, [p[1] for p in points], questions, strict=False):
            ax.annotate(f"{q} q", (n, em), fontsize=8, xytext=(4, 4), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
        ax.set_xlabel("paragraphs read per question (n)")
        ax.set_ylabel("EM (%)", color="#4c72b0")
        lx = ax.twinx()
        lx.plot(ns, [p[2] for p in points], marker="s", color="#c44e52", label=latency_label)
        if budget_ms is not None:
            lx.axhline(budget_ms, color="#c44e52", linestyle=":", label=f"{budget_ms:.0f} ms budget")
        lx.set_ylabel(latency_label, color="#c44e52")
        ax.set_title(title or "Reading more paragraphs: EM and latency")
        ax.grid(True, alpha=0.3)
        fig.legend(loc="upper left", bbox_to_anchor=(0.12, 0.88), fontsize=7)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return Path(path)
