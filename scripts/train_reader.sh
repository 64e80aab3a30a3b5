#!/usr/bin/env bash
# Reader v2 recipe: multitask fine-tuning of MiniLM-L6 on every extractive source we have, in stages
# that each resume where they stopped. Re-run the same command after any interruption (kill, reboot):
# finished stages are skipped (RUN/<stage>.done), a stopped training stage continues from its last
# checkpoint (RUN/<stage>/ckpt: weights, optimizer, scheduler, data position, RNG states).
#
#   scripts/train_reader.sh RUN_DIR [--ship]
#   STAGES="ds-webq ds-trec ds-squad-0 ds-squad-1" scripts/train_reader.sh RUN_DIR   # only these stages
#
# RUN_DIR belongs outside the repository, e.g. ~/.local/share/drqa-ng/runs/reader-v2.
# Needs the shared Wikipedia doc store + BM25 paragraph index (README steps 1-2):
#   DS_DOCS=/work/runs/eval/docs.sqlite DS_INDEX=/work/runs/eval/sparse
# Distant supervision never uses SQuAD part-A paragraphs (doc ids with the `squad:` prefix).
#
# Stages (wall times measured on the shared 2-core AVX2 machine, 1-min load average 14-27 from other
# jobs, everything under `nice -n 19`; on an idle machine expect several times faster):
#   ds-squad-I distant supervision for the 81k paragraph-less SQuAD train questions (k=20, 8 shards):
#              4,370 questions took ~15 min here (DS of squad_train_head, to measure precision),
#              so ~4-5 h for all of them at that rate.
#   ds-open    WebQuestions train (3,778) + CuratedTREC train (1,704, regex answers), k=20.
#   stage1     warm start from the shipped int8 reader (weights dequantised, head included);
#              SQuAD train head + CS224n files + part-A train articles (weight 1), QED train (0.25),
#              QAMR dev+test (0.05 each), SubjQA (0.15): 24,188 windows per epoch, 3 epochs,
#              batch 32, lr 5e-5, warmup 3 %, linear decay: 2,268 steps. Measured rate: see
#              RUN/stage1/log.jsonl (windows_per_s); at ~0.3 windows/s under that load it is a
#              multi-session run, at the idle rate (~2.4 windows per CPU-second) ~8 h on 2 cores.
#              On a 2-core AVX-512 BF16 machine (bf16 autocast, idle) it ran at 14 windows/s:
#              72,564 windows ~ 1.5 h. (A 450-step continuation of the shipped reader on this mix
#              alone did not raise validation F1: the DS stages are what add new data.)
#   stage2     continues stage 1's best model with the distant-supervision data added
#              (DS SQuAD 0.5, WebQuestions 1, CuratedTREC 1), 1 epoch, lr 3e-5.
#   export     int8 ONNX (+ fp32 for the int8-vs-fp32 check), evaluated on the 1,637 part-A
#              validation questions. --ship copies it into drqa_ng/reading/weights/.
# Checkpoints are picked on an evenly spaced 300-question sample of the part-A validation articles.
#
# Full recipe on one GPU (bf16 autocast is automatic there; ~20 min): one stage from the base encoder,
#   drqa-ng train-reader RUN/gpu --train <all stage-2 files and weights> ... --base <MiniLM-L6> \
#     --max-length 384 --stride 128 --batch-size 32 --lr 1e-4 --warmup 0.1 --epochs 3
set -euo pipefail
RUN=${1:?usage: scripts/train_reader.sh RUN_DIR [--ship]}
SHIP=0
if [[ "${2:-}" == "--ship" ]]; then SHIP=1; fi
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${DRQA_NG_DATA:-$(cd "$HERE/../.." && pwd)/shared/data}
RT=$DATA/reader-train
SQ=$DATA/squad
QA=$DATA/qa
DS_DOCS=${DS_DOCS:?set DS_DOCS to a doc store of the shared Wikipedia (drqa-ng build-docs)}
DS_INDEX=${DS_INDEX:?set DS_INDEX to a sparse paragraph index of DS_DOCS (drqa-ng build-sparse)}
THREADS=${THREADS:-2}
mkdir -p "$RUN"

stage() {  # stage NAME COMMAND...: run once; the time it took goes to RUN/NAME.done
  local name=$1
  shift
  if [[ -n "${STAGES:-}" && " $STAGES " != *" $name "* ]]; then echo "stage $name: not in STAGES"; return; fi
  if [[ -f "$RUN/$name.done" ]]; then echo "stage $name: done ($(cat "$RUN/$name.done"))"; return; fi
  local t0=$SECONDS
  "$@"
  echo "$((SECONDS - t0)) s on $(nproc) cores, finished $(date -u +%FT%TZ)" > "$RUN/$name.done"
}

KNOWN=("$RT/squad_train_head.jsonl.gz" "$RT/squad_train_cs224n_val_tok.jsonl.gz"
       "$RT/squad_train_cs224n_small_tok.jsonl.gz")
DS=(--index "$DS_INDEX" --docs "$DS_DOCS" --exclude-prefix squad: -k 20)
stage ds-webq nice -n 19 drqa-ng distant-supervise "$QA/webquestions-train.jsonl" \
  "${DS[@]}" --out "$RUN/ds/webquestions_train.jsonl.gz" --source webquestions-ds
stage ds-trec nice -n 19 drqa-ng distant-supervise "$QA/curatedtrec-train.jsonl" --regex \
  "${DS[@]}" --out "$RUN/ds/curatedtrec_train.jsonl.gz" --source curatedtrec-ds

# in 8 shards (one stage each) so an interruption loses at most one shard
SHARDS=8
DS_SQUAD=()
for ((i = 0; i < SHARDS; i++)); do
  stage "ds-squad-$i" nice -n 19 drqa-ng distant-supervise "$RT/squad_train_questions_answers_noctx.jsonl.gz" \
    "${DS[@]}" --dedupe-against "${KNOWN[@]}" --shard "$i/$SHARDS" --out "$RUN/ds/squad_noctx_$i.jsonl.gz" \
    --source squad-train-ds
  DS_SQUAD+=("$RUN/ds/squad_noctx_$i.jsonl.gz:0.5")
done

MIX=("$RT/squad_train_head.jsonl.gz:1" "$RT/squad_train_cs224n_val_tok.jsonl.gz:1"
     "$RT/squad_train_cs224n_small_tok.jsonl.gz:1" "$SQ/dev-v1.1-part-A.json:1"
     "$RT/qed_train.jsonl.gz:0.25" "$RT/qamr_dev.jsonl.gz:0.05" "$RT/qamr_test.jsonl.gz:0.05"
     "$RT/subjqa_answerable.jsonl.gz:0.15")
COMMON=(
  --train-articles "$SQ/part-A-train-articles.txt" --exclude-titles "$HERE/squad_dev_titles.txt"
  --dev "$SQ/dev-v1.1-part-A.json" --dev-articles "$SQ/part-A-validation-articles.txt" --dev-limit 300
  --max-length 256 --stride 96 --batch-size 32 --save-every 25 --save-minutes 8 --eval-every 50
  --log-every 5 --threads "$THREADS"
)
# the same flags on an existing stage folder continue it (train-reader checks they match its run.json)
WEIGHTS=$(python -c "from drqa_ng.reading.reader import default_weights_dir as d; print(d())")
if [[ ! -d "$RUN/shipped-v1" ]]; then cp -r "$WEIGHTS" "$RUN/shipped-v1"; fi
stage stage1 nice -n 19 drqa-ng -v train-reader "$RUN/stage1" --train "${MIX[@]}" "${COMMON[@]}" \
  --base "$RUN/shipped-v1" --lr 5e-5 --warmup 0.03 --epochs 3 --seed 21
stage stage2 nice -n 19 drqa-ng -v train-reader "$RUN/stage2" --train "${MIX[@]}" \
  "${DS_SQUAD[@]}" "$RUN/ds/webquestions_train.jsonl.gz:1" \
  "$RUN/ds/curatedtrec_train.jsonl.gz:1" "${COMMON[@]}" \
  --base "$RUN/stage1/model" --lr 3e-5 --warmup 0.03 --epochs 1 --seed 22

export_and_eval() {
  nice -n 19 drqa-ng export-reader "$RUN/stage2/model" "$RUN/onnx-int8" --fp32 "$RUN/onnx-fp32"
  for m in onnx-int8 onnx-fp32; do
    nice -n 19 drqa-ng eval-reader "$RUN/$m" --data "$SQ/dev-v1.1-part-A.json" \
      --articles "$SQ/part-A-validation-articles.txt" --threads "$THREADS" --out "$RUN/eval-$m.json"
  done
}
stage export export_and_eval
if [[ $SHIP == 1 ]]; then
  python "$HERE/ship_reader.py" "$RUN/onnx-int8" --eval "$RUN/eval-onnx-int8.json" \
    --eval-fp32 "$RUN/eval-onnx-fp32.json" --baseline-f1 69.93
fi
