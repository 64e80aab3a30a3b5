"""`drqa-ng ask`: answers with evidence, printed or as JSON Lines (one object per question).

A few lines over ``drqa_ng.request.check_request`` (before anything is loaded), ``QAPipeline.answer``
and ``drqa_ng.presentation``. Without ``--index``/``--docs``
the pipeline is read from the data home's ``config.json`` (written by ``quickstart``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from drqa_ng.pipeline import Evidence, PreparedBatch, QAPipeline, QAResult
    from drqa_ng.types import Answer

SNIPPET_CHARS = 160


def flat_head(text: str, chars: int) -> str:
    """``text`` with its whitespace runs collapsed to one space, cut to at most ``chars`` characters
    (a cut one ends in "…"): the preview ``search`` and ``ask --passages`` print."""
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def snippet(a: Answer, color: bool) -> str:
    """The answer in ~``SNIPPET_CHARS`` of context, marked with bold (tty) or ``**…**``."""
    text = a.passage.text
    lo, hi = max(0, a.start - SNIPPET_CHARS), min(len(text), a.end + SNIPPET_CHARS)
    on, off = ("\033[1;33m", "\033[0m") if color else ("**", "**")
    body = f"{text[lo : a.start]}{on}{text[a.start : a.end]}{off}{text[a.end : hi]}"
    return ("…" if lo else "") + " ".join(body.split()) + ("…" if hi < len(text) else "")


def print_answers(
    question: str, answers: Sequence[Answer], out: TextIO, color: bool, abstained: bool = False
) -> None:
    """Answers with confidence bars; when ``abstained``, say so and show the best evidence instead."""
    from drqa_ng.presentation import NO_CONFIDENT_ANSWER, confidence_bar, percent

    print(f"Q: {question}", file=out)
    if not answers:
        print("   (no answer found)", file=out)
    elif abstained:
        best = answers[0]
        print(
            f"   ({NO_CONFIDENT_ANSWER}: the best guess {best.text!r} has confidence {percent(best.confidence)})",
            file=out,
        )
        print("   best evidence:", file=out)
        seen: set[str] = set()
        for a in answers:
            if a.passage.id in seen or len(seen) == 3:
                continue
            seen.add(a.passage.id)
            print(f"    - {a.passage.title} (doc {a.passage.doc_id}, {a.passage.id})", file=out)
            print(f"      {snippet(a, color)}", file=out)
    else:
        for i, a in enumerate(answers, 1):
            n = a.support.count if a.support is not None else 1
            print(
                f"{i:2d}. {a.text}   [{confidence_bar(a.confidence)}] {percent(a.confidence)} confidence"
                f"   (score {a.score:.3f}: reader {a.reader_score:.3f}, retriever {a.retriever_score:.3f}"
                + (f"; {n} spans agree" if n > 1 else "")
                + ")",
                file=out,
            )
            print(f"    {a.passage.title} (doc {a.passage.doc_id}, {a.passage.id})", file=out)
            print(f"    {snippet(a, color)}", file=out)
    print(file=out)


def _ask(args: argparse.Namespace) -> int:
    from drqa_ng.cli.options import check_quoted
    from drqa_ng.errors import InputError
    from drqa_ng.request import check_request

    if not args.questions and not args.interactive:
        raise InputError("give a question, or -i to read questions from stdin")
    check_quoted(args.questions)
    if args.passages < 0:
        raise InputError(f"--passages must be >= 0, got {args.passages}")
    if args.video_index is not None:
        return _ask_video(args)
    # The request is checked before anything is loaded: a bad question fails in milliseconds.
    if args.k is not None:
        from drqa_ng.cli.options import checked_k

        args.k = checked_k(args)  # below 1: an error naming -k; above the HTTP maximum: capped, said
    request = check_request(args.questions, k=args.k, top_n=args.top_n) if args.questions else None
    from drqa_ng.cli.options import load_pipeline

    pipe = load_pipeline(args)
    color = sys.stdout.isatty() and not args.json
    if request is not None:  # checked whole before anything loaded: all or nothing, before any output
        # in reader-sized batches, so the next batch is retrieved and tokenised while this one is read
        n = pipe.reader_batch_size
        qs = request.questions
        chunks = (qs[lo : lo + n] for lo in range(0, len(qs), n))
        for results in pipe.ask_stream(chunks, top_n=request.top_n, k=request.k):
            _emit(args, results, color)
    if args.interactive:
        _interactive(args, pipe, color)
    return 0


def _ask_video(args: argparse.Namespace) -> int:
    """``ask --video-index``: the same answers as ``video-ask`` (segments, timestamps, findings, span)."""
    from drqa_ng.cli.video import video_ask
    from drqa_ng.errors import InputError

    if args.interactive:
        raise InputError("-i is not supported with --video-index; pass the questions as arguments")
    from drqa_ng.request import DEFAULT_VIDEO_K

    return video_ask(
        args.questions,
        index_dir=args.video_index,
        k=DEFAULT_VIDEO_K if args.k is None else args.k,
        frames_per_segment=args.frames_per_segment,
        recognize=not args.no_recognize,
        reader_dir=args.reader,
        as_json=args.json,
    )


def print_passages(evidence: Sequence[Evidence], out: TextIO) -> None:
    """``--passages N``: the passages read, best first, each with its retriever rank and opening words."""
    if not evidence:
        return
    print("   passages read, best first:", file=out)
    for i, e in enumerate(evidence, 1):
        print(f"   {i:2d}. {e.passage.title} ({e.passage.id}; retriever rank {e.rank + 1})", file=out)
        print(f"       {flat_head(e.passage.text, 2 * SNIPPET_CHARS)}", file=out)


def _emit(args: argparse.Namespace, results: Sequence[QAResult], color: bool) -> None:
    from drqa_ng.presentation import result_dict

    for r in results:
        shown = r.evidence[: args.passages]
        if args.json:
            print(json.dumps(result_dict(r.question, r.answers, r.abstained, shown), ensure_ascii=False))
        else:
            print_answers(r.question, r.answers, sys.stdout, color, r.abstained)
            if shown:
                print_passages(shown, sys.stdout)
                print()
    sys.stdout.flush()


def _interactive(args: argparse.Namespace, pipe: QAPipeline, color: bool) -> None:
    """One question a line until EOF; a bad line reports its error and the loop goes on.

    From a pipe or file the next line is retrieved and tokenised while the reader reads this one
    (``QAPipeline.ask_stream``); at a terminal (a person types one question at a time, and the prompt
    must follow the answer) the lines run one after the other.
    """
    from drqa_ng.errors import InputError
    from drqa_ng.stages import run_stages

    tty = sys.stdin.isatty()

    def lines() -> Iterator[str]:
        while True:
            if tty:
                print("question> ", end="", file=sys.stderr, flush=True)
            line = sys.stdin.readline()
            if not line:
                return
            if line.strip():
                yield line.strip()

    def prepare(q: str) -> PreparedBatch | InputError:
        try:
            return pipe.prepare(pipe.check([q], args.top_n, args.k))
        except InputError as e:  # reported in line order by ``finish``, the loop goes on
            return e

    def finish(prepared: PreparedBatch | InputError) -> Sequence[QAResult] | InputError:
        if isinstance(prepared, InputError):
            return prepared
        try:
            return pipe.finish(prepared, top_n=args.top_n)
        except InputError as e:
            return e

    for results in run_stages(lines(), prepare, finish, overlap=pipe.overlap and not tty):
        if isinstance(results, InputError):
            print(f"drqa-ng ask: error: {results}", file=sys.stderr)
        else:
            _emit(args, results, color)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``ask``."""
    from drqa_ng.cli.options import add_pipeline_options
    from drqa_ng.request import DEFAULT_TOP_N

    p = sub.add_parser(
        "ask",
        help="answer questions with evidence from the indexed corpus",
        description="Retrieve passages, read answer spans, print ranked answers with their evidence. "
        "Without --index/--docs, uses the data home built by `drqa-ng quickstart`.",
    )
    p.add_argument(
        "questions",
        nargs="*",
        metavar="QUESTION",
        help='quote each question: drqa-ng ask "Who wrote Hamlet?"',
    )
    p.add_argument(
        "-i", "--interactive", action="store_true", help="read one question a line from stdin until EOF"
    )
    p.add_argument(
        "-n",
        "--top-n",
        type=int,
        default=DEFAULT_TOP_N,
        help=f"answers per question (default {DEFAULT_TOP_N})",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.add_argument(
        "--passages",
        type=int,
        default=0,
        metavar="N",
        help="also show the N best passages read (ordered by what the reader found in them, see "
        '--evidence-order), with their retriever rank; in --json as "passages"',
    )
    v = p.add_argument_group("video (answers are segments with timestamp links; see `drqa-ng build-video`)")
    v.add_argument(
        "--video-index",
        type=Path,
        metavar="DIR",
        help="ask over this video index instead (-k is then the segments per question, default 3)",
    )
    v.add_argument("--frames-per-segment", type=int, default=2, help="frames recognised per segment")
    v.add_argument("--no-recognize", action="store_true", help="skip the heavy recogniser")
    add_pipeline_options(p)
    p.set_defaults(func=_ask)
