"""Copy an exported int8 ONNX reader into ``drqa_ng/reading/weights/`` with its evaluation in the manifest.

    python scripts/ship_reader.py RUN/onnx-int8 --eval RUN/eval-onnx-int8.json \
        --eval-fp32 RUN/eval-onnx-fp32.json --baseline-eval RUN/eval-shipped.json [--min-gain 2]

Refuses (exit 1) a model over 30 MB (``--max-mb``: 70 for issue 20's 6-layer MPNet fallback), one whose int8 F1 is more than 1.0 below its fp32 F1, or one
whose int8 F1 does not beat the shipped reader's by ``--min-gain`` (default 2) points *paired*: the
mean per-question F1 difference on the same questions (``--baseline-eval``, an eval-reader report of
the shipped reader), printed with its standard error. ``--baseline-f1`` (a bare number) is the
unpaired fallback for reports written before eval-reader kept per-question scores. The eval files
are ``drqa-ng eval-reader --out`` reports on the 1,637 part-A validation questions. The folder
layout stays the same: ``model.onnx.partN`` (< 16 MB each), tokenizer files, config, manifest; the
shipped folder's ``calibration.json`` is kept only with ``--keep-calibration`` (a new reader's
scores need a new calibration: scripts/fit_calibration.sh).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path
from typing import Any

from drqa_ng.reading.formats import ONNX_KIND
from drqa_ng.reading.manifest import ReaderManifest
from drqa_ng.reading.onnx_io import read_onnx_bytes
from drqa_ng.reading.reader import default_weights_dir

MAX_MB = 30.0
MAX_INT8_LOSS = 1.0  # issue 20: int8 within 1 F1 of fp32
MIN_GAIN = 2.0  # issue 20: ship only >= 2 F1 over the shipped reader, paired


def paired_gain(new: dict[str, Any], base: dict[str, Any]) -> tuple[float, float, int]:
    """Mean and standard error of the per-question F1 difference new - base (in points) over the
    questions both reports scored: d_i = F1_new,i - F1_base,i; mean = sum d_i / n; SE = sd(d) / sqrt(n)."""
    a, b = new.get("scores") or {}, base.get("scores") or {}
    ids = sorted(set(a) & set(b))
    if not ids:
        raise SystemExit("the reports share no per-question scores (rerun eval-reader --out)")
    d = [100.0 * (float(a[i][1]) - float(b[i][1])) for i in ids]
    n = len(d)
    mean = sum(d) / n
    var = sum((x - mean) ** 2 for x in d) / max(n - 1, 1)
    return mean, math.sqrt(var / n), n


def refusals(
    size_mb: float,
    ev: dict[str, Any],
    ev32: dict[str, Any],
    base: dict[str, Any] | None = None,
    baseline_f1: float | None = None,
    min_gain: float = MIN_GAIN,
    max_mb: float = MAX_MB,
) -> list[str]:
    """Why a candidate must not ship (empty: it may): size, int8 loss against its own fp32, and the
    gain over the shipped reader (paired when ``base`` has per-question scores)."""
    why = []
    if ev.get("questions") != ev32.get("questions") or ev.get("articles") != ev32.get("articles"):
        why.append("int8 and fp32 reports are on different questions")
    if size_mb > max_mb:
        why.append(f"model is {size_mb:.1f} MB > {max_mb} MB")
    if ev32["f1"] - ev["f1"] > MAX_INT8_LOSS:
        why.append(f"int8 F1 {ev['f1']:.2f} is more than {MAX_INT8_LOSS} below fp32 {ev32['f1']:.2f}")
    if base is not None:
        gain, se, n = paired_gain(ev, base)
        if n != ev.get("questions"):
            why.append(f"the baseline report scores {n} of the candidate's {ev.get('questions')} questions")
        if gain < min_gain:
            why.append(f"paired F1 gain {gain:+.2f} (SE {se:.2f}, {n} questions) is below {min_gain}")
    elif baseline_f1 is not None and ev["f1"] - baseline_f1 < min_gain:
        why.append(f"int8 F1 {ev['f1']:.2f} is not {min_gain} above the baseline {baseline_f1:.2f}")
    elif baseline_f1 is None:
        why.append("no baseline: give --baseline-eval (or --baseline-f1)")
    return why


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("onnx_dir", type=Path)
    ap.add_argument("--eval", type=Path, required=True, help="eval-reader report of the int8 folder")
    ap.add_argument("--eval-fp32", type=Path, required=True, help="eval-reader report of the fp32 folder")
    ap.add_argument("--baseline-eval", type=Path, help="eval-reader report of the shipped reader (paired)")
    ap.add_argument("--baseline-f1", type=float, help="unpaired fallback: the shipped reader's int8 F1")
    ap.add_argument(
        "--min-gain", type=float, default=MIN_GAIN, help=f"F1 points over it (default {MIN_GAIN})"
    )
    ap.add_argument("--max-mb", type=float, default=MAX_MB, help=f"size limit in MB (default {MAX_MB})")
    ap.add_argument("--keep-calibration", action="store_true", help="keep the shipped calibration.json")
    ap.add_argument("--recipe", default="", help="manifest 'recipe' text")
    ap.add_argument("--train-data", default="", help="manifest 'train_data' text")
    ap.add_argument("--dest", type=Path, default=None, help="default: drqa_ng/reading/weights")
    args = ap.parse_args()

    data = read_onnx_bytes(args.onnx_dir)  # checks every part's sha256
    ev, ev32 = json.loads(args.eval.read_text()), json.loads(args.eval_fp32.read_text())
    base = json.loads(args.baseline_eval.read_text()) if args.baseline_eval else None
    mb = len(data) / 1e6
    why = refusals(mb, ev, ev32, base, args.baseline_f1, args.min_gain, args.max_mb)
    if why:
        raise SystemExit("not shipped: " + "; ".join(why))
    dst = args.dest or default_weights_dir()
    tmp = dst.with_name(dst.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(args.onnx_dir, tmp)
    if args.keep_calibration and (dst / "calibration.json").exists():
        shutil.copy2(dst / "calibration.json", tmp / "calibration.json")
    keys = ("questions", "exact_match", "f1", "data", "articles", "limit", "backend")
    notes: dict[str, object] = {
        "validation_eval": {k: ev.get(k) for k in keys},
        "validation_eval_fp32": {k: ev32.get(k) for k in keys},
    }
    notes.update({k: v for k, v in (("recipe", args.recipe), ("train_data", args.train_data)) if v})
    ReaderManifest.load(tmp, ONNX_KIND).with_fields(**notes).save(tmp)
    read_onnx_bytes(tmp)  # the copy still verifies
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    if base is not None:
        gain, se, n = paired_gain(ev, base)
        print(f"paired F1 gain over the shipped reader: {gain:+.2f} (SE {se:.2f}, {n} questions)")
    print(
        f"shipped {dst}: int8 EM {ev['exact_match']:.2f} F1 {ev['f1']:.2f} (fp32 F1 {ev32['f1']:.2f}), {mb:.1f} MB"
    )


if __name__ == "__main__":
    main()
