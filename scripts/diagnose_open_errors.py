"""Where open-domain answers go wrong: for each tune-half question whose read passages hold an answer,
is the top answer right, a wrong span of a passage that holds the answer, or a span of a passage that
does not (the reader's scores not comparable across paragraphs)?

    python scripts/diagnose_open_errors.py --home H [--sets webquestions curatedtrec] [--per-split 150]

The same tune-half samples as ``scripts/bench_window_batch.py`` (``drqa_ng.evaluation.splits``, seed
0); CuratedTREC answers are regexes; "holds an answer" is DPR's ``has_answer``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from drqa_ng.config import shared_data_dir
from drqa_ng.evaluation.metrics import answer_match, passage_match
from drqa_ng.evaluation.splits import REGEX_SETS, SETS, sampled_halves
from drqa_ng.pipeline import QAPipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--sets", nargs="+", default=["webquestions", "curatedtrec", "wikimovies"], choices=SETS)
    ap.add_argument("--per-split", type=int, default=150)
    args = ap.parse_args()
    data = shared_data_dir()
    if data is None:
        raise SystemExit("the shared data folder is missing: set DRQA_NG_DATA")
    pipe = QAPipeline.from_home(args.home)
    print(
        "| set | questions | answer among the passages read | top answer right | wrong span, answer passage | span of a passage without the answer |"
    )
    print("|---|---|---|---|---|---|")
    for name, halves in sampled_halves(data, args.per_split, sets=tuple(args.sets)).items():
        rx = name in REGEX_SETS
        hit = right = wrong_span = wrong_passage = 0
        for q in halves["tune"]:
            [res] = pipe.ask_detailed([q.question], 1)
            holding = {e.passage.id for e in res.evidence if passage_match(e.passage.text, q.answers, rx)}
            if not holding or not res.answers:
                continue
            hit += 1
            top = res.answers[0]
            if answer_match(top.text, q.answers, rx):
                right += 1
            elif top.passage.id in holding:
                wrong_span += 1
            else:
                wrong_passage += 1
        print(f"| {name} | {len(halves['tune'])} | {hit} | {right} | {wrong_span} | {wrong_passage} |")


if __name__ == "__main__":
    main()
