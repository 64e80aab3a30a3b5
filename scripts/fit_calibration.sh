#!/usr/bin/env bash
# One command to (re)fit a reader's answer-confidence calibration and measure it, e.g. after retraining:
#
#   scripts/fit_calibration.sh RUN_DIR INDEX_DIR DOCS [READER_DIR]
#
# 1. `drqa-ng eval --features --no-calibration` on SAMPLE (default 250) seeded questions of the SQuAD
#    dev part-A TRAIN articles at each n_docs in NS (default "5 10 20 50"): per-answer features, EM and
#    p50 latency per n (the read-more sweep);
# 2. the same on all part-A VALIDATION articles at the default n_docs (held out: never fitted on);
# 3. `drqa-ng calibrate` fits the logistic calibration on the pooled TRAIN runs, picks the abstention
#    threshold there (answered precision >= TARGET, default 0.5), reports ECE / reliability diagram /
#    precision-coverage on VALIDATION and writes calibration.json into READER_DIR (default: the
#    shipped weights, drqa_ng/reading/weights);
# 4. `drqa-ng eval` of drqa_ng/evaluation/data/unanswerable.jsonl with the new calibration: the share
#    of nonsense/unanswerable questions abstained;
# 5. scripts/report_n_docs.py: EM (calibrated ranking) and p50 latency per n, table + PNG.
#
# Sizes: NS, SAMPLE, VAL_SAMPLE, TARGET from the environment. Every eval step is skipped when its
# output exists (delete RUN_DIR/NAME to redo it). Run it under
# `nice` on a shared machine; latency figures are only meaningful on an otherwise idle one.
set -euo pipefail
RUN=${1:?usage: scripts/fit_calibration.sh RUN_DIR INDEX_DIR DOCS [READER_DIR]}
INDEX=${2:?index folder}
DOCS=${3:?doc store}
HERE=$(cd "$(dirname "$0")/.." && pwd)
READER=${4:-$HERE/drqa_ng/reading/weights}
DATA=${DRQA_NG_DATA:-$(cd "$HERE/.." && pwd)/shared/data}
NS=${NS:-5 10 20 50}
SAMPLE=${SAMPLE:-250}
TARGET=${TARGET:-0.5}
VAL_SAMPLE=${VAL_SAMPLE:-}   # e.g. 200: a seeded sample of the validation questions (default: all 1,637)
SQUAD=$DATA/squad/dev-v1.1-part-A.json
mkdir -p "$RUN"
common=(--index "$INDEX" --docs "$DOCS" --reader "$READER" --quiet)

train=()
for n in $NS; do
  out=$RUN/train-n$n
  [[ -f $out/features.jsonl ]] || drqa-ng eval --dataset squad "$SQUAD" \
    --articles "$DATA/squad/part-A-train-articles.txt" --sample "$SAMPLE" --seed 1 -k "$n" \
    --no-calibration --features "${common[@]}" --out "$out"
  train+=("$out/features.jsonl")
done
[[ -f $RUN/validation/features.jsonl ]] || drqa-ng eval --dataset squad "$SQUAD" \
  --articles "$DATA/squad/part-A-validation-articles.txt" ${VAL_SAMPLE:+--sample "$VAL_SAMPLE" --seed 0} \
  --no-calibration --features "${common[@]}" \
  --out "$RUN/validation"
drqa-ng calibrate "${train[@]}" --eval "$RUN/validation/features.jsonl" --out "$RUN/calibration" \
  --target-precision "$TARGET" --save-to "$READER" \
  --name "SQuAD dev part-A train articles, $SAMPLE seeded questions (seed 1) x n_docs {${NS// /,}}"
drqa-ng eval --dataset webquestions "$HERE/drqa_ng/evaluation/data/unanswerable.jsonl" "${common[@]}" \
  --out "$RUN/unanswerable"
python "$HERE/scripts/report_n_docs.py" "$RUN" --calibration "$READER/calibration.json"
