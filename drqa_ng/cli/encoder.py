"""`drqa-ng mine-pairs` and `drqa-ng train-encoder`: question → paragraph pairs with BM25 hard
negatives, and DPR-style tuning of the dense (MiniLM) or static (Model2Vec) encoder on them."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands to the parser."""
    from drqa_ng.cli.options import add_threads_option
    from drqa_ng.tuning.encoder import KINDS, TuneConfig

    p = sub.add_parser(
        "mine-pairs",
        help="question → paragraph training pairs with BM25 hard negatives (for train-encoder)",
        description=(
            "For each question: the positive is its gold paragraph when the file has one (SQuAD JSON, "
            "reader-training JSONL with 'context'), else the best-ranked retrieved paragraph holding an "
            "answer (distant supervision, as DPR did for WebQuestions/CuratedTREC); the hard negatives "
            "are the best-ranked retrieved paragraphs without one. Answer-only question files keep their "
            "tune half only (drqa_ng.evaluation.splits: sha1(id) parity), so the report halves stay unseen."
        ),
    )
    p.add_argument("out", type=Path, metavar="OUT.jsonl.gz", help="pairs file to write")
    p.add_argument("--index", type=Path, required=True, help="sparse (BM25) paragraph index to mine with")
    p.add_argument("--docs", type=Path, help="doc store of the index (default: the one in its manifest)")
    p.add_argument("--questions", type=Path, action="append", default=[], help="question file (repeatable)")
    p.add_argument(
        "--regex-questions",
        type=Path,
        action="append",
        default=[],
        help="question file whose answers are regexes",
    )
    p.add_argument("--articles", type=Path, help="SQuAD JSON files: keep these article titles only")
    p.add_argument("--exclude-titles", type=Path, help="drop questions on these article titles")
    p.add_argument(
        "--all-halves",
        action="store_true",
        help="answer-only files: keep both halves (default: tune half only)",
    )
    p.add_argument("--limit", type=int, help="at most N questions per file (first N)")
    p.add_argument("-k", type=int, default=20, help="retrieved paragraphs a question (default 20)")
    p.add_argument("--negatives", type=int, default=2, help="hard negatives kept a question (default 2)")
    p.set_defaults(func=_mine)

    d = TuneConfig()
    t = sub.add_parser(
        "train-encoder",
        help="fine-tune the dense or static retrieval encoder on mined pairs (resumable)",
        description=(
            "Multiple-negatives ranking loss over in-batch positives and hard negatives. --kind "
            "transformer tunes a Hugging Face sentence encoder (default: the bundled all-MiniLM-L6-v2); "
            "--kind static tunes a Model2Vec table directly (default: the one distilled from MiniLM; "
            "--ship-static writes the best one int8-quantised, the layout shipped as `tuned-static`). "
            "RUN/model keeps the best model on held-out pairs; run again to resume from RUN/ckpt."
        ),
    )
    t.add_argument("run", type=Path, metavar="RUN_DIR")
    t.add_argument("--pairs", type=Path, action="append", required=True, help="pairs file (repeatable)")
    t.add_argument("--kind", choices=KINDS, default=d.kind)
    t.add_argument(
        "--base", type=Path, help="model folder to start from (default: the shipped one of --kind)"
    )
    t.add_argument("--epochs", type=float, default=d.epochs)
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument("--negatives", type=int, default=d.negatives, help="hard negatives a question in a batch")
    t.add_argument(
        "--lr", type=float, default=None, help="peak learning rate (default: 1e-3 static, 2e-5 transformer)"
    )
    t.add_argument("--warmup", type=float, default=d.warmup)
    t.add_argument("--scale", type=float, default=d.scale, help="1/temperature of the softmax (default 20)")
    t.add_argument("--anchor", type=float, default=d.anchor, help="static: pull towards the starting table")
    t.add_argument("--max-length", type=int, default=d.max_length)
    t.add_argument("--query-max-length", type=int, default=d.query_max_length)
    t.add_argument(
        "--dev-share", type=float, default=d.dev_share, help="share of pairs held out for selection"
    )
    t.add_argument("--dev-limit", type=int, help="held-out pairs scored at each evaluation (default: all)")
    t.add_argument("--eval-every", type=int, default=d.eval_every)
    t.add_argument("--save-minutes", type=float, default=d.save_minutes)
    t.add_argument("--max-steps", type=int)
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument(
        "--distil-static",
        type=Path,
        metavar="DIR",
        help="transformer: afterwards distil a static model from the best checkpoint into DIR",
    )
    t.add_argument(
        "--ship-static",
        type=Path,
        metavar="DIR",
        help="static: afterwards write the best model int8-quantised into DIR (drqa_ng/retrieval/static_weights ships)",
    )
    t.add_argument(
        "--ship-dense",
        type=Path,
        metavar="DIR",
        help="transformer: afterwards write the best model packed as int8 rows into DIR "
        "(drqa_ng/retrieval/encoder_weights ships, as tuned-minilm)",
    )
    add_threads_option(t, help="CPU threads (default: torch's)")
    t.set_defaults(func=_train)


def _load(path: Path, regex: bool, args: argparse.Namespace) -> list[Any]:
    import gzip

    from drqa_ng.evaluation.datasets import load_questions
    from drqa_ng.evaluation.splits import parity_half
    from drqa_ng.inputs import read_article_list
    from drqa_ng.reading.data import load_examples, spare_titles
    from drqa_ng.retrieval.pairs import PairQuestion

    articles = read_article_list(args.articles) if args.articles and path.name.endswith(".json") else None
    excluded = read_article_list(args.exclude_titles) if args.exclude_titles else set()
    exclude = spare_titles(excluded, articles)
    src = path.name.split(".")[0]
    with_context = path.name.endswith(".json")
    if not with_context and path.is_file():
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            first = next((line for line in f if line.strip()), "{}")
        with_context = "context" in json.loads(first)
    out: list[PairQuestion] = []
    if with_context:
        for ex in load_examples(path, articles, exclude):
            out.append(PairQuestion(ex.id, ex.question, ex.answers, src, ex.context, ex.title, regex))
    else:
        for q in load_questions(path):
            if args.all_halves or parity_half(q.id) == "tune":
                out.append(PairQuestion(q.id, q.question, q.answers, src, regex=regex))
    return out[: args.limit] if args.limit else out


def _mine(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from drqa_ng.errors import InputError
    from drqa_ng.evaluation.metrics import passage_match
    from drqa_ng.indexes import index_docs, open_retriever
    from drqa_ng.retrieval.pairs import mine_pairs, write_pairs
    from drqa_ng.store.docstore import DocStore

    if not args.questions and not args.regex_questions:
        raise InputError("give at least one --questions or --regex-questions file")
    qs = [q for f in args.questions for q in _load(f, False, args)]
    qs += [q for f in args.regex_questions for q in _load(f, True, args)]
    if not qs:
        raise InputError("the question files hold no usable questions")
    docs = args.docs or index_docs(args.index)
    if docs is None:
        raise InputError(f"{args.index} names no doc store; pass --docs")
    retriever = open_retriever(args.index)
    with DocStore.open(docs) as store:
        bar = tqdm(total=len(qs), unit="q", desc="mine-pairs", disable=args.quiet)
        counts: dict[str, int] = {}

        def counted() -> Any:
            pairs = mine_pairs(qs, retriever, store, passage_match, k=args.k, negatives=args.negatives)
            for i, pair in enumerate(pairs):
                counts[pair.source] = counts.get(pair.source, 0) + 1
                if i % 64 == 0:
                    bar.n = min(len(qs), i)
                    bar.refresh()
                yield pair

        n = write_pairs(args.out, counted())
        bar.close()
    by_source = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"{n} pairs from {len(qs)} questions ({by_source}) -> {args.out}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from drqa_ng.errors import InputError
    from drqa_ng.retrieval.pairs import read_pairs
    from drqa_ng.tuning.encoder import TuneConfig, tune_encoder

    pairs = [p for f in args.pairs for p in read_pairs(f)]
    lr = args.lr if args.lr is not None else (1e-3 if args.kind == "static" else 2e-5)
    cfg = TuneConfig(
        kind=args.kind,
        epochs=args.epochs,
        batch_size=args.batch_size,
        negatives=args.negatives,
        lr=lr,
        warmup=args.warmup,
        scale=args.scale,
        anchor=args.anchor,
        query_max_length=args.query_max_length,
        max_length=args.max_length,
        dev_share=args.dev_share,
        dev_limit=args.dev_limit,
        eval_every=args.eval_every,
        save_minutes=args.save_minutes,
        max_steps=args.max_steps,
        threads=args.threads,
        seed=args.seed,
    )
    if args.base is not None:
        base = args.base
    elif args.kind == "static":
        from drqa_ng.retrieval.static import DEFAULT_STATIC_NAME, resolve_static_dir

        base = resolve_static_dir(DEFAULT_STATIC_NAME)[1]  # the distilled one, not the shipped tuned one
    else:
        from drqa_ng.config import base_encoder_dir

        base = base_encoder_dir()
    if args.distil_static and args.kind != "transformer":
        raise InputError("--distil-static needs --kind transformer")
    if args.ship_static and args.kind != "static":
        raise InputError("--ship-static needs --kind static")
    if args.ship_dense and args.kind != "transformer":
        raise InputError("--ship-dense needs --kind transformer")
    res = tune_encoder(pairs, base, args.run, cfg, progress=not args.quiet)
    print(
        f"best held-out MRR {res.best_mrr:.4f} at step {res.best_step} of {res.steps} "
        f"(start {res.start_mrr:.4f}) -> {res.model}"
    )
    if args.distil_static:
        from drqa_ng.retrieval.static import distill_static

        distill_static(res.model, args.distil_static)
        print(f"static model distilled from {res.model} -> {args.distil_static}")
    if args.ship_static:
        from drqa_ng.retrieval.static import quantize_static

        quantize_static(res.model, args.ship_static)
        print(f"int8 static model -> {args.ship_static}")
    if args.ship_dense:
        from drqa_ng.retrieval.encoder import TUNED_NAME
        from drqa_ng.retrieval.packed import pack_encoder

        pack_encoder(res.model, args.ship_dense, TUNED_NAME)
        print(f"packed int8 encoder -> {args.ship_dense}")
    return 0
