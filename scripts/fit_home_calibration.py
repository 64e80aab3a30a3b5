"""Fit a reader's answer calibration on the question sets' *tune* halves over a data home, so the
confidence (which also orders the answers) is fit where `ask` runs: factoid questions over the home's
own index, not only SQuAD questions over English Wikipedia (``scripts/fit_calibration.sh``).

For every set of ``drqa_ng.evaluation.splits`` it takes the tune half, removes the questions that
``scripts/bench_window_batch.py`` / ``diagnose_open_errors.py`` choose on (``sampled_halves(data,
--exclude-per-split)``'s tune sample), draws ``--per-set`` of the rest (``random.Random(--seed)``),
writes them as a JSON-lines question file and runs ``drqa-ng eval --features --no-calibration`` on
the home (CuratedTREC scored by regex). ``drqa-ng calibrate`` then fits one logistic calibration on
all of them, pooled with any ``--extra`` features.jsonl (e.g. the SQuAD runs of fit_calibration.sh),
and reports it on ``--eval`` runs. Nothing of a test half is read.

    python scripts/fit_home_calibration.py --home QS --out RUN [--extra F ...] [--save-to READER_DIR]

Every eval step is skipped when its features.jsonl exists (delete it to redo).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

from drqa_ng.config import shared_data_dir
from drqa_ng.evaluation.splits import REGEX_SETS, SETS, load_halves, sampled_halves


def tune_questions(data: Path, set_name: str, n: int, exclude_per_split: int, seed: int) -> list[dict]:
    """``n`` seeded tune-half questions of ``set_name`` outside the choice sample, as JSON-lines rows."""
    chosen = {q.id for q in sampled_halves(data, exclude_per_split, sets=(set_name,))[set_name]["tune"]}
    pool = [q for q in load_halves(data, set_name)["tune"] if q.id not in chosen]
    picked = random.Random(seed).sample(pool, min(n, len(pool)))
    return [{"id": q.id, "question": q.question, "answer": list(q.answers)} for q in picked]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-set", type=int, default=200)
    ap.add_argument("--exclude-per-split", type=int, default=150)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    ap.add_argument("--reader", type=Path, help="reader folder (default: the home's)")
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="more features.jsonl to pool")
    ap.add_argument("--eval", type=Path, action="append", default=[], help="held-out features.jsonl")
    ap.add_argument("--save-to", type=Path, help="write calibration.json into this reader folder")
    ap.add_argument("--target-precision", type=float, default=0.5)
    args = ap.parse_args()
    data = shared_data_dir()
    if data is None:
        sys.exit("set DRQA_NG_DATA or put the shared data beside the checkout")
    args.out.mkdir(parents=True, exist_ok=True)
    feats = []
    for name in args.sets:
        run = args.out / name
        feats.append(run / "features.jsonl")
        if feats[-1].is_file():
            continue
        qfile = args.out / f"{name}.tune.jsonl"
        rows = tune_questions(data, name, args.per_set, args.exclude_per_split, args.seed)
        qfile.write_text("".join(json.dumps(r) + "\n" for r in rows))
        dataset = "curatedtrec" if name in REGEX_SETS else "webquestions"  # webquestions = plain string EM
        cmd = ["drqa-ng", "eval", "--dataset", dataset, str(qfile), "--home", str(args.home)]
        cmd += ["--no-calibration", "--features", "--quiet", "--out", str(run)]
        cmd += ["--reader", str(args.reader)] if args.reader else []
        subprocess.run(cmd, check=True)
    cmd = [
        "drqa-ng",
        "calibrate",
        *map(str, feats + list(args.extra)),
        "--out",
        str(args.out / "calibration"),
    ]
    cmd += ["--target-precision", str(args.target_precision)]
    cmd += ["--name", f"tune halves over {args.home} ({args.per_set} a set, seed {args.seed})"]
    cmd += [a for e in args.eval for a in ("--eval", str(e))]
    cmd += ["--save-to", str(args.save_to)] if args.save_to else []
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
