"""Fit the learned answer ranker (``drqa_ng.ranking.answers``) on tune halves; report EM before → after
on the held-out halves (``drqa_ng.evaluation.splits``; CuratedTREC by regex).

1. ``collect``: run the pipeline with article ranking but WITHOUT the answer ranker (``top_n`` 20) on
   both halves of every set, and the plain paragraph pipeline (the "before") on the test halves;
   per question keep the merged answers' ranker features and correctness (``OUT/rows-*.npz``).
2. ``fit``: standardised logistic regression (scikit-learn, L2) of correctness on the tune rows; the
   training depth (each question's 5 or 20 best answers) and C (0.1, 1) chosen by 2-fold
   cross-fitted top-1 EM on tune; Platt scaling of its score fit on those cross-fitted top-1 scores,
   and the abstention threshold chosen there (answered precision ≥ ``--target-precision``).
3. Report per set on the test halves: EM of the plain pipeline, of article ranking with the old
   answer order, and with the ranker; ECE and coverage of the ranker's confidence.

    python scripts/fit_answer_ranker.py --home H --out OUT [--tune 300] [--test 200] [--save DIR]

``--save`` ships the ranker into a reader folder only when it beats the pipeline's own order on the
tune halves (cross-fitted) by ``MIN_GAIN`` EM points; the pipeline uses it wherever it is present.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from drqa_ng.config import read_home_config, shared_data_dir
from drqa_ng.evaluation.calibration import choose_threshold, expected_calibration_error
from drqa_ng.evaluation.datasets import Question
from drqa_ng.evaluation.metrics import answer_match
from drqa_ng.evaluation.splits import REGEX_SETS, SETS, sampled_halves
from drqa_ng.pipeline import PipelineSettings, QAPipeline
from drqa_ng.ranking.answers import FEATURES, RankerWeights, ranker_features

log = logging.getLogger("fit_answer_ranker")
TOP_N = 20


def correct(text: str, golds: tuple[str, ...], regex: bool) -> bool:
    return bool(answer_match(text, golds, regex))


def collect(pipe: QAPipeline, qs: list[Question], regex: bool, path: Path) -> dict[str, np.ndarray]:
    """Ranker features of every merged answer (``x``), correctness (``y``), question index (``q``) and
    the pipeline's own order (``r``, 0 = its top answer); cached in ``path``."""
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    xs: list[np.ndarray] = []
    ys: list[bool] = []
    qi: list[int] = []
    ri: list[int] = []
    t0 = time.perf_counter()
    for lo in range(0, len(qs), 8):
        batch = qs[lo : lo + 8]
        for j, (q, res) in enumerate(
            zip(batch, pipe.ask_detailed([q.question for q in batch], TOP_N), strict=True)
        ):
            if not res.answers:
                continue
            signals = {e.passage.id: e.signals for e in res.evidence if e.signals is not None}
            xs.append(ranker_features(q.question, res.answers, signals))
            ys.extend(correct(a.text, q.answers, regex) for a in res.answers)
            qi.extend([lo + j] * len(res.answers))
            ri.extend(range(len(res.answers)))
    log.info("%s: %d questions in %.0f s", path.name, len(qs), time.perf_counter() - t0)
    out: dict[str, np.ndarray] = {
        "x": np.concatenate(xs) if xs else np.zeros((0, len(FEATURES))),
        "y": np.asarray(ys, dtype=np.bool_),
        "q": np.asarray(qi, dtype=np.int64),
        "r": np.asarray(ri, dtype=np.int64),
        "n": np.asarray([len(qs)]),
    }
    np.savez(path, x=out["x"], y=out["y"], q=out["q"], r=out["r"], n=out["n"])
    return out


def top1(rows: dict[str, np.ndarray], score: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per answered question: the index of its top row (by ``score``, else the pipeline's order)."""
    best: dict[int, int] = {}
    for i, q in enumerate(rows["q"].tolist()):
        j = best.get(q)
        if j is None:
            best[q] = i
        elif score is None:
            if rows["r"][i] < rows["r"][j]:
                best[q] = i
        elif score[i] > score[j]:
            best[q] = i
    idx = np.asarray(sorted(best.values()), dtype=np.int64)
    return idx, rows["y"][idx]


def em(rows: dict[str, np.ndarray], score: np.ndarray | None) -> float:
    _, ok = top1(rows, score)
    return 100.0 * float(ok.sum()) / int(rows["n"][0])


def fit_lr(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Standardised L2 logistic regression: (mean, scale, coef, intercept)."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    m = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y)
    return mean, scale, m.coef_[0], float(m.intercept_[0])


MIN_GAIN = 1.0
"""``--save`` writes the ranker only when its cross-fitted tune EM beats the pipeline's order by this."""
VARIANTS = tuple((r, c) for r in (5, TOP_N) for c in (0.1, 1.0))
"""(train on each question's ``max_rank`` best answers in the pipeline's order, C): chosen by
2-fold cross-fitted top-1 EM on the tune halves."""


def by_fold(rs: list[dict[str, np.ndarray]], fold: int, keep: bool) -> list[dict[str, np.ndarray]]:
    """The rows of the questions with index parity == ``fold`` (``keep``) or != ``fold``."""
    out = []
    for r in rs:
        mask = ((r["q"] % 2) == fold) == keep
        out.append({k: (v[mask] if k != "n" else v) for k, v in r.items()})
    return out


def training_rows(rs: list[dict[str, np.ndarray]], max_rank: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the ``max_rank`` best answers (pipeline order) of the questions that have a right
    one among them: ranking is learnt where there is something to rank (a question with no right
    candidate only teaches "this question is hard", which the Platt step and threshold handle)."""
    xs, ys = [], []
    for r in rs:
        keep = r["r"] < max_rank
        good = np.unique(r["q"][keep & r["y"]])
        keep &= np.isin(r["q"], good)
        xs.append(r["x"][keep])
        ys.append(r["y"][keep])
    return np.concatenate(xs), np.concatenate(ys)


def cross_fit(
    tune: list[dict[str, np.ndarray]], max_rank: int, c: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """2-fold cross-fitted top-1 EM over the tune questions and the held-fold top-1 scores / hits."""
    zs, oks = [], []
    for fold in (0, 1):
        m, s, coef, b = fit_lr(*training_rows(by_fold(tune, fold, keep=False), max_rank), c)
        for r in by_fold(tune, fold, keep=True):
            z = b + ((r["x"] - m) / s) @ coef
            idx, ok = top1(r, z)
            zs.append(z[idx])
            oks.append(ok)
    zt, okt = np.concatenate(zs), np.concatenate(oks)
    return 100.0 * float(okt.sum()) / sum(int(r["n"][0]) for r in tune), zt, okt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--save", type=Path, help="write answer_ranker.json into this reader folder")
    ap.add_argument(
        "--target-precision", type=float, default=0.5, help="abstain below the answered precision on tune"
    )
    ap.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="question sets, in order")
    ap.add_argument(
        "--phase",
        choices=("all", "tune", "test", "fit"),
        default="all",
        help="tune / test: only collect (and cache) those rows, e.g. in two processes; all: collect and "
        "fit; fit: fit and report on the cached rows only (sets without them are left out)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = shared_data_dir()
    assert data is not None, "set DRQA_NG_DATA"
    cfg = read_home_config(args.home)
    assert cfg.articles is not None, "the home has no article index (rerun quickstart)"
    base = PipelineSettings(
        cfg.indexes, cfg.docs, fusion=cfg.fusion, fusion_weight=cfg.fusion_weight_or_default
    )
    art = QAPipeline.from_settings(replace(base, articles=cfg.articles, answer_ranking=False))
    plain = QAPipeline.from_settings(base)
    args.out.mkdir(parents=True, exist_ok=True)
    tune_sets = sampled_halves(data, args.tune, sets=tuple(args.sets))
    test_sets = sampled_halves(data, args.test, sets=tuple(args.sets))
    rows: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for name in tune_sets:
        regex = name in REGEX_SETS
        if args.phase == "fit":
            files = {k: args.out / f"rows-{name}-{k}.npz" for k in ("tune", "test", "plain")}
            cached = {k: collect(art, [], regex, f) for k, f in files.items() if f.is_file()}
            if cached:
                rows[name] = cached
            continue
        if args.phase != "test":
            rows.setdefault(name, {})["tune"] = collect(
                art, tune_sets[name]["tune"], regex, args.out / f"rows-{name}-tune.npz"
            )
        if args.phase != "tune":
            got = rows.setdefault(name, {})
            got["test"] = collect(art, test_sets[name]["test"], regex, args.out / f"rows-{name}-test.npz")
            got["plain"] = collect(plain, test_sets[name]["test"], regex, args.out / f"rows-{name}-plain.npz")
    if args.phase in ("tune", "test"):
        return
    tune = [r["tune"] for r in rows.values() if "tune" in r]
    n_tune = sum(int(r["n"][0]) for r in tune)
    old_em = 100.0 * sum(int(top1(r, None)[1].sum()) for r in tune) / n_tune
    best = None
    for max_rank, c in VARIANTS:
        cv_em, zt, okt = cross_fit(tune, max_rank, c)
        log.info(
            "max_rank %d, C %g: cross-fitted tune EM %.1f (pipeline order %.1f)", max_rank, c, cv_em, old_em
        )
        if best is None or cv_em > best[0]:
            best = (cv_em, max_rank, c, zt, okt)
    assert best is not None
    cv_em, max_rank, c_best, zt, okt = best
    x, y = training_rows(tune, max_rank)
    mean, scale, coef, intercept = fit_lr(x, y, c_best)
    from sklearn.linear_model import LogisticRegression

    platt = LogisticRegression(C=1e6, max_iter=1000).fit(zt.reshape(-1, 1), okt)
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    conf_t = 1.0 / (1.0 + np.exp(-(a * zt + b)))
    threshold = choose_threshold(conf_t, okt.astype(float), args.target_precision)
    weights = RankerWeights(
        FEATURES,
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in coef),
        intercept,
        a,
        b,
        threshold,
        fitted_on=f"tune halves ({args.tune}/set) of " + ", ".join(rows),
        report={
            "rows": len(y),
            "positives": int(y.sum()),
            "max_rank": max_rank,
            "C": c_best,
            "tune_cross_fitted_em": cv_em,
            "tune_pipeline_order_em": old_em,
            "tune_ece": expected_calibration_error(conf_t, okt),
            "target_precision": args.target_precision,
            "tune_coverage_at_threshold": float((conf_t >= threshold).mean()),
        },
    )
    report: dict[str, object] = {"weights": dict(zip(FEATURES, weights.coef, strict=True)), "sets": {}}
    print(f"coef {dict(zip(FEATURES, (round(c, 3) for c in weights.coef), strict=True))}")
    print(f"Platt a={a:.3f} b={b:.3f}, threshold {threshold:.3f}")
    print("| set | n | EM plain | EM articles | EM articles + ranker | ECE | answered at threshold (EM) |")
    print("|---|---|---|---|---|---|---|")
    for name, got in rows.items():
        if "test" not in got or "plain" not in got:
            continue
        held = got["test"]
        z = weights.score(held["x"])
        idx, ok = top1(held, z)
        conf = weights.confidence(z[idx])
        n = int(held["n"][0])
        answered = conf >= threshold
        sel = 100.0 * float(ok[answered].mean()) if answered.any() else 0.0
        line = {
            "n": n,
            "em_plain": em(got["plain"], None),
            "em_articles": em(held, None),
            "em_ranker": em(held, z),
            "ece": expected_calibration_error(conf, ok.astype(float)),
            "answered": float(answered.sum()) / n,
            "answered_em": sel,
        }
        report["sets"][name] = line  # type: ignore[index]
        print(
            f"| {name} | {n} | {line['em_plain']:.1f} | {line['em_articles']:.1f} | {line['em_ranker']:.1f} "
            f"| {line['ece']:.3f} | {100 * line['answered']:.0f} % ({sel:.1f}) |"
        )
    (args.out / "answer_ranker_report.json").write_text(json.dumps(report, indent=2) + "\n")
    gain = cv_em - old_em
    print(f"cross-fitted tune EM {cv_em:.1f} vs the pipeline's order {old_em:.1f} ({gain:+.1f})")
    if args.save is not None:
        if gain >= MIN_GAIN:
            print(f"wrote {weights.save(args.save)}")
        else:
            print(f"not saved: the ranker must beat the pipeline's order on tune by >= {MIN_GAIN} EM points")


if __name__ == "__main__":
    main()
