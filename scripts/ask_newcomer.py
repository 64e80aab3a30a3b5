"""The easy factoid questions a newcomer asks first (issues 20 and 21), answered by the pipeline
``ask`` uses on a data home: the top answer, right or wrong by a regular expression, abstained or not.

These questions are for reporting only; nothing is tuned on them.

    python scripts/ask_newcomer.py [--home H] [--reader DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from drqa_ng.pipeline import QAPipeline

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("What is the capital of Germany?", r"\bBerlin\b"),
    ("Who wrote the novel 1984?", r"\bOrwell\b"),
    ("Which element has the atomic number 1?", r"\bhydrogen\b"),
    ("Which animal is the largest mammal?", r"\bblue whale\b"),
    ("What is the largest ocean?", r"\bPacific\b"),
    ("What is the longest river in Africa?", r"\bNile\b"),
    ("What is the largest country by area?", r"\bRussia\b"),
    ("When did the Titanic sink?", r"\b1912\b"),
    ("Which organ pumps blood through the body?", r"\bheart\b"),
    ("What is the chemical symbol of gold?", r"^\W*Au\W*$"),
    ("What is the chemical symbol of iron?", r"^\W*Fe\W*$"),
    ("When did World War II end?", r"\b1945\b"),
    ("What language is spoken in Brazil?", r"\bPortuguese\b"),
    ("How many legs does a spider have?", r"^\W*(eight|8)\W*$|\b(eight|8) legs\b"),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, help="data home (default: as the CLI finds it)")
    ap.add_argument("--reader", type=Path, help="reader folder (default: the home's)")
    ap.add_argument("--json", action="store_true", help="one JSON object per question")
    args = ap.parse_args()
    options = {"reader": args.reader} if args.reader else {}
    pipe = QAPipeline.from_home(args.home, **options)
    results = pipe.ask_detailed([q for q, _ in QUESTIONS], 1)
    right = 0
    if not args.json:
        print("| question | top answer | right | confidence | abstained |")
        print("|---|---|---|---|---|")
    for (question, pattern), res in zip(QUESTIONS, results, strict=True):
        top = res.answers[0] if res.answers else None
        text = top.text if top else ""
        ok = bool(top) and re.search(pattern, text, flags=re.IGNORECASE) is not None
        right += ok
        conf = float(top.confidence) if top and top.confidence is not None else 0.0
        if args.json:
            row = {"question": question, "answer": text, "right": ok, "confidence": conf}
            print(json.dumps(row | {"abstained": res.abstained}))
        else:
            print(f"| {question} | {text} | {'yes' if ok else 'no'} | {conf:.2f} | {res.abstained} |")
    print(f"\n{right} of {len(QUESTIONS)} right at rank 1 ({100 * right / len(QUESTIONS):.0f} %)")


if __name__ == "__main__":
    main()
