"""`drqa-ng ask`, `drqa-ng quickstart` and `drqa-ng eval`: end-to-end question answering.

Each handler is a few lines over ``drqa_ng.pipeline``, ``drqa_ng.evaluation.qa`` and
``indexing.quickstart``. Without ``--index``/``--docs`` the pipeline is read from the data home's
``config.json`` (written by ``quickstart``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Sequence

    from drqa_ng.pipeline import PipelineSettings, QAPipeline, QAResult
    from drqa_ng.types import Answer

SNIPPET_CHARS = 160


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    """Options naming the indexes, doc store and reader (shared by ask, eval and serve)."""
    from drqa_ng.cli.options import add_home_option, add_threads_option, hidden_alias
    from drqa_ng.config import DEFAULT_K

    g = p.add_argument_group("pipeline (defaults: the data home's config.json)")
    add_home_option(g)
    g.add_argument(
        "--index", type=Path, action="append", help="index folder; repeat to fuse several (hybrid)"
    )
    g.add_argument("--docs", type=Path, help="doc store (.sqlite) the index was built from")
    g.add_argument(
        "--reader",
        type=Path,
        metavar="PATH_OR_NAME",
        help="reader (default: the shipped int8 weights): a folder from train-reader/export-reader, or any "
        "Hugging Face extractive-QA checkpoint, as a save_pretrained folder or a hub name such as "
        "deepset/roberta-base-squad2 (downloaded once when not in the local HF cache)",
    )
    g.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "torch", "onnx"),
        help="auto: by the reader's kind (a HF checkpoint runs on torch); onnx on a HF checkpoint exports it "
        "once to int8 ONNX (cached under $XDG_CACHE_HOME/drqa_ng/readers) and starts without torch after",
    )
    hidden_alias(g, "--reader-backend", dest="backend", choices=("auto", "torch", "onnx"))
    g.add_argument("--fusion", choices=("rrf", "interp"), help="how several indexes are fused (default rrf)")
    g.add_argument(
        "-k", type=int, default=DEFAULT_K, help=f"retrieved units per question (default {DEFAULT_K})"
    )
    hidden_alias(g, "--n-docs", dest="k", type=int)
    g.add_argument(
        "--weight",
        type=float,
        help="retriever weight w in score = reader + w·norm(retriever) (default: config.json, else the tuned default 1.0)",
    )
    g.add_argument(
        "--max-passages", type=int, default=64, help="cap on passages read per question (default 64)"
    )
    add_threads_option(g, "CPU threads for the reader (default: the runtime's)")
    g.add_argument(
        "--min-confidence",
        type=float,
        help="say 'no confident answer' below this calibrated confidence (default: the threshold stored "
        "with the reader's calibration.json; 0 never abstains)",
    )
    g.add_argument(
        "--no-calibration",
        dest="calibrated",
        action="store_false",
        help="ignore the reader's calibration.json (confidence = raw aggregated span probability)",
    )


def pipeline_settings(args: argparse.Namespace) -> PipelineSettings:
    """Settings from flags, falling back to ``<home>/config.json`` for whatever is not given."""
    from drqa_ng.config import default_home
    from drqa_ng.errors import InputError
    from drqa_ng.pipeline import DEFAULT_WEIGHT, PipelineSettings

    indexes, docs, reader = args.index, args.docs, args.reader
    weight, fusion = args.weight, args.fusion
    fusion_weight, home = 0.5, None
    if not indexes or docs is None:
        from indexing.quickstart import read_home_config

        if args.home is None and (indexes or docs is not None):
            raise InputError("give both --index and --docs (or neither, to use the data home)")
        cfg = read_home_config(args.home or default_home())
        indexes = indexes or list(cfg.indexes)
        docs = docs or cfg.docs
        reader = reader or cfg.reader
        weight = weight if weight is not None else cfg.weight
        if not args.index and fusion is None:  # retrieval follows the home (and its upgrades)
            fusion, fusion_weight, home = cfg.fusion, cfg.fusion_weight, cfg.home
        fusion = fusion or cfg.fusion
    return PipelineSettings(
        indexes=tuple(indexes),
        docs=docs,
        reader=reader,
        reader_backend=args.backend,
        fusion=fusion or "rrf",
        fusion_weight=fusion_weight,
        home=home,
        n_docs=args.k,
        weight=DEFAULT_WEIGHT if weight is None else weight,
        max_passages=args.max_passages,
        threads=args.threads,
        min_confidence=args.min_confidence,
        calibrated=args.calibrated,
    )


def load_pipeline(args: argparse.Namespace) -> QAPipeline:
    from drqa_ng.pipeline import QAPipeline

    return QAPipeline.from_settings(pipeline_settings(args))


# -- ask ---------------------------------------------------------------------------------------------


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

    if not args.questions and not args.interactive:
        raise InputError("give a question, or -i to read questions from stdin")
    check_quoted(args.questions)
    if args.video_index is not None:
        return _ask_video(args)
    pipe = load_pipeline(args)
    color = sys.stdout.isatty() and not args.json
    if args.questions:
        _emit(args, pipe.ask_detailed(args.questions, top_n=args.top_n), color)
    if args.interactive:
        _interactive(args, pipe, color)
    return 0


def _ask_video(args: argparse.Namespace) -> int:
    """``ask --video-index``: the same answers as ``video-ask`` (segments, timestamps, findings, span)."""
    from drqa_ng.cli.video import video_ask
    from drqa_ng.errors import InputError

    if args.interactive:
        raise InputError("-i is not supported with --video-index; pass the questions as arguments")
    return video_ask(
        args.questions,
        index_dir=args.video_index,
        k=args.top_n,
        frames_per_segment=args.frames_per_segment,
        recognize=not args.no_recognize,
        reader_dir=args.reader,
        as_json=args.json,
    )


def _emit(args: argparse.Namespace, results: Sequence[QAResult], color: bool) -> None:
    from drqa_ng.presentation import result_dict

    for r in results:
        if args.json:
            print(json.dumps(result_dict(r.question, r.answers, r.abstained), ensure_ascii=False))
        else:
            print_answers(r.question, r.answers, sys.stdout, color, r.abstained)
    sys.stdout.flush()


def _interactive(args: argparse.Namespace, pipe: QAPipeline, color: bool) -> None:
    """One question a line until EOF; a bad line reports its error and the loop goes on."""
    from drqa_ng.errors import InputError

    tty = sys.stdin.isatty()
    while True:
        if tty:
            print("question> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            break
        q = line.strip()
        if not q:
            continue
        try:
            results = pipe.ask_detailed([q], top_n=args.top_n)
        except InputError as e:
            print(f"drqa-ng ask: error: {e}", file=sys.stderr)
            continue
        _emit(args, results, color)


# -- quickstart --------------------------------------------------------------------------------------


def _quickstart(args: argparse.Namespace) -> int:
    from drqa_ng.config import default_home
    from indexing.background import start_background_dense as start_background
    from indexing.background import stop_background_dense
    from indexing.quickstart import build_home, default_url, download, report_dict

    home = (args.home or default_home()).resolve()
    corpus = args.corpus
    if not corpus:
        url = args.url or default_url()
        name = url.rstrip("/").rsplit("/", 1)[-1] or "corpus.xml.bz2"
        print(f"downloading {url}", file=sys.stderr)
        corpus = [download(url, home / "downloads" / name, progress=not args.quiet)]
    from drqa_ng.cli.status import quickstart_dense_plan

    dense, static, background = quickstart_dense_plan(args.dense, args.background)
    if stop_background_dense(home):  # it reads the doc store this run rebuilds; restarted below
        print("stopped the running background dense build", file=sys.stderr)
    from tqdm.contrib.logging import logging_redirect_tqdm

    def header(i: int, n: int, name: str) -> None:
        if not args.quiet:
            print(f"[{i}/{n}] {name}", file=sys.stderr, flush=True)

    # The per-document skip warnings are summarised as counts below (-v still lists them); other
    # warnings print above the progress bar instead of through it.
    skips = logging.getLogger("indexing.docstore")
    level = skips.level
    if not args.verbose:
        skips.setLevel(logging.ERROR)
    try:
        with logging_redirect_tqdm():
            report = build_home(
                corpus,
                home,
                unit=args.unit,
                dense=dense,
                dense_limit=args.dense_limit,
                encoder=args.encoder,
                static=static,
                static_model=args.static_model,
                progress=not args.quiet,
                on_step=header,
            )
    finally:
        skips.setLevel(level)
    pid = start_background(report.home, args.encoder) if background else None
    if args.json:
        print(json.dumps({**report_dict(report), "background_pid": pid}, indent=2))
        return 0
    print(f"built {report.home}: {report.documents} documents, {report.units} {args.unit} units", end="")
    if static:
        print(f", {report.static_units} static vectors", end="")
    print(f", {report.dense_units} dense vectors" if dense else "" if static else " (no dense index)")
    if pid is not None:
        print(
            f"  MiniLM dense index: building in the background (pid {pid}, low priority); ask/serve switch "
            f"to it when it is complete. Progress: drqa-ng status{'' if args.home is None else f' --home {report.home}'}"
        )
    print(
        f"  skipped {report.duplicates} duplicate-id and {report.empty} empty documents"
        + ("" if args.verbose or not report.duplicates + report.empty else " (-v lists them)")
    )
    for stage, seconds in report.seconds:
        print(f"  {stage:7s} {seconds:8.1f} s")
    at = "" if args.home is None else f" --home {report.home}"
    print(
        f'config: {report.config}\nnow try: drqa-ng ask{at} "your question"  (or: drqa-ng search{at} "words")'
    )
    return 0


# -- eval --------------------------------------------------------------------------------------------


def _eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from drqa_ng.errors import InputError
    from drqa_ng.evaluation.datasets import load_questions, read_article_list
    from drqa_ng.evaluation.qa import (
        REGEX_DATASETS,
        evaluate_qa,
        metrics_dict,
        run_pipeline,
        tune_weight,
        write_metrics,
        write_predictions,
    )
    from drqa_ng.evaluation.report import plot_qa_report

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be >= 1, got {args.limit}")
    articles = read_article_list(args.articles) if args.articles else None
    questions = load_questions(args.file, articles)
    if args.sample is not None and args.sample < len(questions):
        import random

        keep = sorted(random.Random(args.seed).sample(range(len(questions)), args.sample))
        questions = [questions[i] for i in keep]
    questions = questions[: args.limit]
    if not questions:
        raise InputError(
            f"no questions in {args.file}" + (f" for the articles in {args.articles}" if articles else "")
        )
    settings = pipeline_settings(args)
    from drqa_ng.pipeline import QAPipeline

    pipe = QAPipeline.from_settings(settings)
    args.out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(
        total=len(questions), desc=f"eval {args.dataset}", unit="q", disable=args.quiet, file=sys.stderr
    )
    curve: tuple[tuple[float, float], ...] = ()
    extra: dict[str, object] = {}
    with bar:
        if args.tune:
            results, _ = run_pipeline(
                pipe, questions, top_n=pipe.reader_candidates, batch_size=args.batch_size
            )
            best, curve = tune_weight(results, questions, regex=args.dataset in REGEX_DATASETS)
            extra["tuned_weight"] = best
            extra["weight_curve"] = [list(c) for c in curve]
            bar.reset()
        preds, metrics, results = evaluate_qa(
            pipe,
            questions,
            dataset=args.dataset,
            batch_size=args.batch_size,
            top_n=pipe.reader_candidates if args.features else 1,
            progress=bar.update,
        )
    write_predictions(args.out / "predictions.jsonl", preds)
    if args.features:
        from drqa_ng.evaluation.calibration import answer_rows, write_rows

        write_rows(
            args.out / "features.jsonl", answer_rows(questions, results, args.dataset in REGEX_DATASETS)
        )
    write_metrics(
        args.out / "metrics.json",
        metrics,
        file=str(args.file),
        articles=str(args.articles) if args.articles else None,
        limit=args.limit,
        sample=args.sample,
        seed=args.seed,
        indexes=[str(p) for p in settings.indexes],
        docs=str(settings.docs),
        reader=str(settings.reader) if settings.reader else "shipped",
        min_confidence=pipe.min_confidence,
        calibrated=pipe.calibration is not None,
        **extra,
    )
    plot_qa_report(metrics, preds, args.out / "report.png", weight_curve=curve)
    m = metrics_dict(metrics)
    line = f"{args.dataset}: {metrics.questions} questions  EM {metrics.em:.1f}  F1 {metrics.f1:.1f}"
    if metrics.regex_match is not None:
        line += f"  regex {metrics.regex_match:.1f}"
    print(line)
    print("  " + "  ".join(f"{k} {v:.1f}" for k, v in m["recall_at"].items()))  # type: ignore[attr-defined]
    print(
        f"  latency p50 {metrics.latency_p50_ms:.0f} ms  p95 {metrics.latency_p95_ms:.0f} ms  "
        f"{metrics.questions_per_s:.2f} q/s  CPU p50 {metrics.cpu_p50_ms:.0f} ms  "
        f"(w={metrics.weight}, n_docs={metrics.n_docs})"
    )
    answered = "-" if metrics.answered_em is None else f"{metrics.answered_em:.1f}"
    print(
        f"  abstained {metrics.abstained:.1f}% (min confidence {pipe.min_confidence:g}), "
        f"EM of the answered {answered}"
    )
    if args.tune:
        print(f"  tuned weight on this split: {extra['tuned_weight']} (curve {list(curve)})")
    print(
        f"  wrote {args.out}/predictions.jsonl, metrics.json, report.png"
        + (", features.jsonl" if args.features else "")
    )
    return 0


# -- registration ------------------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ask, quickstart and eval."""
    from drqa_ng.cli.options import add_home_option
    from drqa_ng.config import DEFAULT_TOP_N

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
    v = p.add_argument_group("video (answers are segments with timestamp links; see `drqa-ng build-video`)")
    v.add_argument("--video-index", type=Path, metavar="DIR", help="ask over this video index instead")
    v.add_argument("--frames-per-segment", type=int, default=2, help="frames recognised per segment")
    v.add_argument("--no-recognize", action="store_true", help="skip the heavy recogniser")
    add_pipeline_options(p)
    p.set_defaults(func=_ask)

    q = sub.add_parser(
        "quickstart",
        help="download/ingest a corpus and build doc store + indexes into the data home",
        description="Build everything `drqa-ng ask` needs into one folder (--home, default $DRQA_NG_HOME or "
        "the per-user ~/.local/share/drqa-ng) and write its config.json. Without --corpus, downloads the latest Simple English "
        "Wikipedia dump (override with --url or $DRQA_NG_WIKI_URL; partial downloads resume). "
        "On a CPU, it builds BM25 and a static-vector index (Model2Vec distilled from MiniLM: about a minute) "
        "and answers at once, and builds the MiniLM dense index (~45 min for Simple Wikipedia on 2 cores) "
        "in a detached low-priority process that ask/serve switch to when it is complete (`drqa-ng status` "
        "shows its progress; --no-background skips it). With a CUDA GPU the MiniLM index is built in the "
        "foreground. --dense forces a foreground MiniLM build, --no-dense builds BM25 only, --dense-limit N "
        "encodes only the first N units.",
    )
    q.add_argument(
        "--corpus", type=Path, action="append", help="dump (.xml.bz2), WikiExtractor folder, JSONL, SQuAD"
    )
    add_home_option(q)
    q.add_argument("--url", help="dump URL to download when no --corpus is given")
    q.add_argument(
        "--unit", default="paragraph", choices=("doc", "paragraph", "passage"), help="retrieval unit"
    )
    q.add_argument("--dense", action=argparse.BooleanOptionalAction, default=None, help="build a dense index")
    q.add_argument("--dense-limit", type=int, help="encode at most N units for the dense index")
    q.add_argument(
        "--background",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="build the MiniLM dense index in a detached low-priority process (default: on a CPU)",
    )
    q.add_argument(
        "--static-model",
        metavar="DIR",
        help="static (Model2Vec) model folder (default: distilled once from the shipped MiniLM and cached)",
    )
    q.add_argument("--encoder", help="dense encoder folder (default: the shipped MiniLM)")
    q.add_argument("--json", action="store_true", help="print the build report as JSON")
    q.set_defaults(func=_quickstart)

    e = sub.add_parser(
        "eval",
        help="batch end-to-end QA evaluation (EM/F1/regex, recall@k, latency) with a PNG report",
        description="Run the pipeline on a question set and write predictions.jsonl, metrics.json and "
        "report.png to --out. CuratedTREC is scored by regex match. --tune also picks the retriever weight "
        "on THIS split (use a dev split, e.g. SQuAD part-A train articles, then pass --weight elsewhere).",
    )
    e.add_argument("--dataset", required=True, choices=("squad", "webquestions", "curatedtrec", "wikimovies"))
    e.add_argument("file", type=Path, metavar="FILE", help="SQuAD JSON or DrQA JSONL question file")
    e.add_argument("--articles", type=Path, help="SQuAD: keep only these article titles (one a line)")
    e.add_argument("--limit", type=int, help="evaluate only the first N questions")
    e.add_argument(
        "--sample", type=int, help="evaluate a seeded random sample of N questions (file order kept)"
    )
    e.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
    e.add_argument("--out", type=Path, required=True, help="output folder")
    e.add_argument("--batch-size", type=int, default=1, help="questions per pipeline call (1 = true latency)")
    e.add_argument("--tune", action="store_true", help="also grid-search the retriever weight on this split")
    e.add_argument(
        "--features",
        action="store_true",
        help="also write features.jsonl: confidence features and correctness of every ranked answer "
        "(input of `drqa-ng calibrate`)",
    )
    add_pipeline_options(e)
    e.set_defaults(func=_eval)
