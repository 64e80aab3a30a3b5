#!/usr/bin/env bash
# One-command retrieval quality report: sparse (BM25), dense (MiniLM-L6 + FAISS Flat) and hybrid
# (RRF, interpolation at the equal-weight default 0.5) top-k answer recall, k = 1/5/20/100, over the
# shared Wikipedia text plus the SQuAD dev part-A paragraphs, on the part-A validation articles and
# the shared QA sets (CuratedTREC in regex mode).
#
#   scripts/report_retrieval.sh RUN_DIR [--max-length 128]
#
# Every step is skipped when its output exists, and the dense build resumes from its saved chunks,
# so a killed run continues where it stopped. Cost: on 2 CPU cores the dense build is the long part
# (1.31M paragraphs at ~120 paragraphs/s with the int8 ONNX encoder, ~3 h); with a CUDA GPU
# `--backend auto` encodes with torch on it. Each eval-retrieval run writes RUN_DIR/NAME/
# retrieval_metrics.json + recall_at_k.png and prints a Markdown table (also saved as NAME.md).
set -euo pipefail
RUN=${1:?usage: scripts/report_retrieval.sh RUN_DIR [--max-length N]}
shift
MAXLEN=128
if [[ "${1:-}" == "--max-length" ]]; then MAXLEN=${2:?--max-length needs a value}; shift 2; fi
DATA=${DRQA_NG_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}
mkdir -p "$RUN"
DOCS=$RUN/docs.sqlite SPARSE=$RUN/sparse DENSE=$RUN/dense

[[ -f $DOCS ]] || drqa-ng build-docs "$DATA/wiki/simplewiki-2018" "$DATA/wiki/enwiki-2015-part" \
  "$DATA/squad/dev-v1.1-part-A.json" "$DOCS"
[[ -f $SPARSE/manifest.json ]] || drqa-ng build-sparse "$DOCS" "$SPARSE" --unit paragraph \
  --scoring bm25 --threads 2
[[ -f $DENSE/manifest.json ]] || drqa-ng build-dense "$DOCS" "$DENSE" --backend auto \
  --max-length "$MAXLEN" --factory Flat --chunk-size 16384

report() {
  local name=$1; shift
  drqa-ng eval-retrieval --index "$SPARSE" --index "$DENSE" --docs "$DOCS" --fusion rrf interp \
    --fusion-weight 0.5 --out "$RUN/$name" "$@" | tee "$RUN/$name.md"
}
report squad --questions "$DATA/squad/dev-v1.1-part-A.json" \
  --articles "$DATA/squad/part-A-validation-articles.txt"
report curatedtrec --questions "$DATA/qa/curatedtrec-train.jsonl" --regex
report webquestions --questions "$DATA/qa/webquestions-train.jsonl"
report wikimovies --questions "$DATA/qa/wikimovies-dev.jsonl"
