"""Plots of evaluation results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drqa_ng.evaluation.retrieval import RetrievalReport


def plot_recall_curves(report: RetrievalReport, path: Path) -> Path:
    """One recall@k curve per system (log-scaled k axis) saved as PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # headless: never try to open a window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    try:
        for s in report.systems:
            ax.plot(report.ks, s.recall, marker="o", label=s.name)
        if len(report.ks) > 1:
            ax.set_xscale("log")
        ax.set_xticks(report.ks, [str(k) for k in report.ks])
        ax.set_ylim(0.0, 1.0)
        ax.set_xlabel("k (retrieved units)")
        ax.set_ylabel("top-k answer recall" + (" (regex)" if report.regex else ""))
        ax.set_title(f"Retrieval recall@k, {report.questions} questions")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return Path(path)
