"""Tune-half-only copies of teacher-labelled retrieved paragraphs (``label-reader`` output of
``distant-supervise --retrieved``) of WebQuestions / CuratedTREC, with the gold span added where the
paragraph holds an answer (whole words, case-folded; CuratedTREC answers are regexes).

Dropped: every test-half question (``drqa_ng.evaluation.splits.parity_half``), which the reports
score, and the tune sample that ``scripts/bench_window_batch.py`` chooses readers on (``--hold``
questions, ``sampled_halves`` seed 0). The reader trained on the rest is chosen on questions it never
saw and reported on the test halves (docs/reader.md, sixth session).

    python scripts/tune_half_labels.py LABELS.jsonl.gz --set webquestions --out OUT.jsonl.gz [--hold 150]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

from drqa_ng.config import shared_data_dir
from drqa_ng.evaluation.splits import REGEX_SETS, load_halves, sampled_halves


def gold_span(context: str, answers: tuple[str, ...], regex: bool) -> tuple[str, int] | None:
    """The first answer (in the file's order) found in ``context``, at its first match, as (text, char
    offset); None when none is (a regex whose first match is empty counts as not found)."""
    for ans in answers:
        try:
            pat = (
                re.compile(ans, re.IGNORECASE)
                if regex
                else re.compile(r"(?<!\w)" + re.escape(ans) + r"(?!\w)", re.IGNORECASE)
            )
        except re.error:
            continue
        m = pat.search(context)
        if m is not None and m.group(0).strip():
            return m.group(0), m.start()
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labels", type=Path)
    ap.add_argument("--set", required=True, choices=("webquestions", "curatedtrec", "wikimovies"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--hold", type=int, default=150, help="tune-half questions kept out for choosing")
    ap.add_argument("--data", type=Path, default=None, help="the shared data folder (default: DRQA_NG_DATA)")
    args = ap.parse_args(argv)
    data = args.data or shared_data_dir()
    if data is None:
        raise SystemExit("the shared data folder is missing: set DRQA_NG_DATA or pass --data")
    regex = args.set in REGEX_SETS
    held = {q.id for q in sampled_halves(data, args.hold, sets=(args.set,))[args.set]["tune"]}
    tune = {q.id: q for q in load_halves(data, args.set)["tune"] if q.id not in held}
    seen = kept = golds = 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    with gzip.open(args.labels, "rt", encoding="utf-8") as f, gzip.open(tmp, "wt", encoding="utf-8") as g:
        for line in f:
            seen += 1
            rec = json.loads(line)
            q = tune.get(str(rec["id"]).split("#", 1)[0])
            if q is None:
                continue
            span = gold_span(str(rec["context"]), q.answers, regex)
            if span is not None:
                rec["answers"] = [{"text": span[0], "answer_start": span[1]}]
                golds += 1
            g.write(json.dumps(rec, ensure_ascii=False) + "\n")
            kept += 1
    tmp.replace(args.out)
    print(
        f"{args.set}: {kept} of {seen} paragraphs kept ({len(held)} tune questions held), {golds} with a gold span -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
