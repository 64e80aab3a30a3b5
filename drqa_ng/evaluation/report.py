"""PNG report of a QA evaluation run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drqa_ng.evaluation.qa import Prediction, QAMetrics


def plot_qa_report(
    metrics: QAMetrics,
    preds: Sequence[Prediction],
    path: Path,
    weight_curve: Sequence[tuple[float, float]] = (),
) -> Path:
    """Answer scores, retriever recall@k, latency histogram (and the weight-tuning curve if given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 4 if weight_curve else 3
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.6), dpi=100)
    try:
        ax = axes[0]
        names = ["EM", "F1"] + (["regex"] if metrics.regex_match is not None else [])
        values = [metrics.em, metrics.f1] + ([metrics.regex_match] if metrics.regex_match is not None else [])
        bars = ax.bar(names, values, color=["#4c72b0", "#55a868", "#c44e52"][: len(names)])
        ax.bar_label(bars, fmt="%.1f")
        ax.set_ylim(0, 100)
        ax.set_ylabel("%")
        ax.set_title(f"{metrics.dataset}: answers ({metrics.questions} q)")

        ax = axes[1]
        ks = [k for k, _ in metrics.recall_at]
        ax.plot(ks, [v for _, v in metrics.recall_at], marker="o")
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_ylim(0, 100)
        ax.set_xlabel("k retrieved units")
        ax.set_ylabel("answer in top-k evidence (%)")
        ax.set_title("retriever recall@k")
        ax.grid(True, alpha=0.3)

        ax = axes[2]
        ax.hist([p.seconds * 1000 for p in preds], bins=30, color="#8172b2")
        ax.axvline(
            metrics.latency_p50_ms, color="k", linestyle="--", label=f"p50 {metrics.latency_p50_ms:.0f} ms"
        )
        ax.axvline(
            metrics.latency_p95_ms, color="r", linestyle=":", label=f"p95 {metrics.latency_p95_ms:.0f} ms"
        )
        ax.set_xlabel("ms per question")
        ax.set_title(f"latency (batch {metrics.batch_size})")
        ax.legend()

        if weight_curve:
            ax = axes[3]
            ax.plot([w for w, _ in weight_curve], [s for _, s in weight_curve], marker="o")
            ax.set_xlabel("retriever weight w")
            ax.set_ylabel("dev score (%)")
            ax.set_title("weight tuning")
            ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return Path(path)
