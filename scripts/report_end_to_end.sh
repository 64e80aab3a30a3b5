#!/usr/bin/env bash
# End-to-end QA on the four shared question sets, one reader, one retrieval setup: the README table.
#
#   scripts/report_end_to_end.sh RUN_DIR READER INDEX [INDEX ...] -- DOCS
#
# e.g. BM25 over the shared Wikipedia + part-A paragraphs (README "Step by step" 1-2, with
# ../shared/data/squad/dev-v1.1-part-A.json added to build-docs), the shipped reader:
#   scripts/report_end_to_end.sh runs/e2e-bm25 drqa_ng/reading/weights wiki_bm25 -- wiki.sqlite
#
# Sets (evaluation splits only; nothing here is tuned on): SQuAD-open = all 1,637 questions of the
# part-A validation articles; WebQuestions train / CuratedTREC train (regex) = seeded samples of
# SAMPLE (default 500) questions, seed 0; WikiMovies dev = a seeded sample of MOVIES (default 300).
# Each `drqa-ng eval` writes RUN_DIR/SET/{predictions.jsonl,metrics.json,report.png} and is skipped
# when its metrics.json exists. Prints a Markdown table (EM, F1, regex, R@k, p50 ms).
# Several indexes are fused with FUSION (rrf | interp; interp weights the last index 0.5), e.g.
#   FUSION=interp scripts/report_end_to_end.sh runs/e2e-hybrid READER wiki_bm25 wiki_static -- wiki.sqlite
set -euo pipefail
RUN=${1:?usage: scripts/report_end_to_end.sh RUN_DIR READER INDEX [INDEX ...] -- DOCS}
READER=${2:?reader folder}
shift 2
INDEXES=()
while [[ $# -gt 0 && $1 != "--" ]]; do INDEXES+=(--index "$1"); shift; done
[[ ${1:-} == "--" ]] || { echo "missing -- DOCS" >&2; exit 2; }
DOCS=${2:?doc store}
HERE=$(cd "$(dirname "$0")/.." && pwd)
DATA=${DRQA_NG_DATA:-$(cd "$HERE/.." && pwd)/shared/data}
SAMPLE=${SAMPLE:-500}
MOVIES=${MOVIES:-300}
mkdir -p "$RUN"
common=(--reader "$READER" "${INDEXES[@]}" --docs "$DOCS" --quiet ${FUSION:+--fusion "$FUSION"})

run() {  # run NAME ARGS...: one eval, skipped when done
  local name=$1
  shift
  [[ -f $RUN/$name/metrics.json ]] || drqa-ng eval "$@" "${common[@]}" --out "$RUN/$name"
}
run squad-open --dataset squad "$DATA/squad/dev-v1.1-part-A.json" \
  --articles "$DATA/squad/part-A-validation-articles.txt"
run webquestions --dataset webquestions "$DATA/qa/webquestions-train.jsonl" --sample "$SAMPLE" --seed 0
run curatedtrec --dataset curatedtrec "$DATA/qa/curatedtrec-train.jsonl" --sample "$SAMPLE" --seed 0
run wikimovies --dataset wikimovies "$DATA/qa/wikimovies-dev.jsonl" --sample "$MOVIES" --seed 0

python3 - "$RUN" <<'EOF'
import json
import sys
from pathlib import Path

run = Path(sys.argv[1])
names = {
    "squad-open": "SQuAD-open (part-A validation articles)",
    "webquestions": "WebQuestions train (seeded sample)",
    "curatedtrec": "CuratedTREC train (seeded sample)",
    "wikimovies": "WikiMovies dev (seeded sample)",
}


def num(v: object) -> str:
    return f"{v:.1f}" if isinstance(v, (int, float)) else "–"


print("| set | questions | EM | F1 | regex | retriever R@5 | p50 ms | abstained % |")
print("|---|---|---|---|---|---|---|---|")
for key, label in names.items():
    m = json.loads((run / key / "metrics.json").read_text())
    recall = m.get("recall_at", {}).get("recall@5")
    print(
        f"| {label} | {m['questions']:,} | {num(m['em'])} | {num(m['f1'])} | {num(m.get('regex_match'))} | "
        f"{num(recall)} | {num(m['latency_p50_ms'])} | {num(m.get('abstained'))} |"
    )
EOF
