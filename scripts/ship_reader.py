"""Copy an exported int8 ONNX reader into ``drqa_ng/reading/weights/`` with its evaluation in the manifest.

    python scripts/ship_reader.py RUN/onnx-int8 --eval RUN/eval-onnx-int8.json \
        --eval-fp32 RUN/eval-onnx-fp32.json [--baseline-f1 69.93]

Refuses (exit 1) a model over 30 MB, one whose int8 F1 is more than 1.5 below its fp32 F1, or one
that does not beat ``--baseline-f1`` (the shipped reader's int8 F1 on the same questions). The eval
files are ``drqa-ng eval-reader --out`` reports on the 1,637 part-A validation questions. The folder
layout stays the same: ``model.onnx.partN`` (< 16 MB each), tokenizer files, config, manifest.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from drqa_ng.reading.formats import ONNX_KIND
from drqa_ng.reading.manifest import ReaderManifest
from drqa_ng.reading.onnx_io import read_onnx_bytes
from drqa_ng.reading.reader import default_weights_dir

MAX_MB = 30.0
MAX_INT8_LOSS = 1.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("onnx_dir", type=Path)
    ap.add_argument("--eval", type=Path, required=True, help="eval-reader report of the int8 folder")
    ap.add_argument("--eval-fp32", type=Path, required=True, help="eval-reader report of the fp32 folder")
    ap.add_argument("--baseline-f1", type=float, help="ship only above this int8 F1")
    ap.add_argument("--recipe", default="", help="manifest 'recipe' text")
    ap.add_argument("--train-data", default="", help="manifest 'train_data' text")
    ap.add_argument("--dest", type=Path, default=None, help="default: drqa_ng/reading/weights")
    args = ap.parse_args()

    data = read_onnx_bytes(args.onnx_dir)  # checks every part's sha256
    ev, ev32 = json.loads(args.eval.read_text()), json.loads(args.eval_fp32.read_text())
    if ev.get("questions") != ev32.get("questions") or ev.get("articles") != ev32.get("articles"):
        raise SystemExit("int8 and fp32 reports are on different questions")
    mb = len(data) / 1e6
    if mb > MAX_MB:
        raise SystemExit(f"model is {mb:.1f} MB > {MAX_MB} MB")
    if ev32["f1"] - ev["f1"] > MAX_INT8_LOSS:
        raise SystemExit(f"int8 F1 {ev['f1']:.2f} is more than {MAX_INT8_LOSS} below fp32 {ev32['f1']:.2f}")
    if args.baseline_f1 is not None and ev["f1"] <= args.baseline_f1:
        raise SystemExit(f"int8 F1 {ev['f1']:.2f} does not beat the baseline {args.baseline_f1:.2f}")
    dst = args.dest or default_weights_dir()
    tmp = dst.with_name(dst.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(args.onnx_dir, tmp)
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
    print(
        f"shipped {dst}: int8 EM {ev['exact_match']:.2f} F1 {ev['f1']:.2f} (fp32 F1 {ev32['f1']:.2f}), {mb:.1f} MB"
    )


if __name__ == "__main__":
    main()
