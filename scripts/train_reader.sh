#!/usr/bin/env bash
# One-command reader recipe: fine-tune MiniLM-L6 on SQuAD-train paragraphs + SQuAD dev part-A train
# articles, evaluate on the part-A validation articles, export int8 ONNX and (with --ship) copy it into
# drqa_ng/reading/weights/.
#
#   scripts/train_reader.sh RUN_DIR [--ship] [extra train-reader flags, e.g. --max-steps 500]
#
# Defaults are the REDUCED CPU recipe used for the shipped weights (2 shared CPU cores, ~1 h):
# max_length 256, stride 96, batch 16, lr 1.5e-4, 500 steps. The full recipe (one GPU, ~15 min) is
#   --max-length 384 --stride 128 --batch-size 32 --lr 1e-4 --epochs 3   (no --max-steps)
set -euo pipefail
RUN=${1:?usage: scripts/train_reader.sh RUN_DIR [--ship] [train-reader flags]}
shift
SHIP=0
if [[ "${1:-}" == "--ship" ]]; then SHIP=1; shift; fi
DATA=${DRQA_NG_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}
RT=$DATA/reader-train
SQ=$DATA/squad

nice drqa-ng -v train-reader "$RUN" \
  --train "$RT/squad_train_head.jsonl.gz" "$RT/squad_train_cs224n_val_tok.jsonl.gz" \
          "$RT/squad_train_cs224n_small_tok.jsonl.gz" "$SQ/dev-v1.1-part-A.json" \
  --train-articles "$SQ/part-A-train-articles.txt" \
  --dev "$SQ/dev-v1.1-part-A.json" --dev-articles "$SQ/part-A-validation-articles.txt" --dev-limit 300 \
  --max-length 256 --stride 96 --batch-size 16 --lr 1.5e-4 --warmup 0.08 --max-steps 500 \
  --save-every 100 --threads 2 --seed 13 "$@"

nice drqa-ng export-reader "$RUN/model" "$RUN/onnx-int8" --fp32 "$RUN/onnx-fp32"
for m in onnx-int8 onnx-fp32; do
  nice drqa-ng eval-reader "$RUN/$m" --data "$SQ/dev-v1.1-part-A.json" \
    --articles "$SQ/part-A-validation-articles.txt" --threads 2 --out "$RUN/eval-$m.json"
done
if [[ $SHIP == 1 ]]; then
  python - "$RUN" <<'PY'
import json, shutil, sys
from pathlib import Path
from drqa_ng.reading.reader import default_weights_dir
run = Path(sys.argv[1]); dst = default_weights_dir()
ev = json.loads((run / "eval-onnx-int8.json").read_text())
shutil.rmtree(dst, ignore_errors=True); shutil.copytree(run / "onnx-int8", dst)
m = json.loads((dst / "manifest.json").read_text())
m["validation_eval"] = {k: ev[k] for k in ("questions", "exact_match", "f1", "data", "articles", "limit", "backend")}
m["train_data"] = ("squad_train_head + squad_train_cs224n_val_tok + squad_train_cs224n_small_tok (tokenised text "
                   "kept as is) + SQuAD dev part A train articles (part-A-train-articles.txt)")
(dst / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
print(f"shipped {dst}: EM {ev['exact_match']:.2f} F1 {ev['f1']:.2f}")
PY
fi
