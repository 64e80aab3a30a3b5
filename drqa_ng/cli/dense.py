"""`drqa-ng build-dense` (dense FAISS index over a doc store) and `drqa-ng eval-retrieval` (recall@k)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``build-dense`` and ``eval-retrieval``."""
    from drqa_ng.cli.options import hidden_alias
    from drqa_ng.cli.sparse import add_engine_options

    p = sub.add_parser(
        "build-dense",
        help="encode a doc store's units and build a FAISS index (resumable)",
        description="Encode every unit of DOCS with a sentence encoder (mean pooling, L2-normalised) in "
        "resumable chunks, then build a FAISS inner-product index in OUT_DIR. Run it again after an "
        "interruption to continue where it stopped.",
    )
    p.add_argument("docs", type=Path, metavar="DOCS.sqlite", help="doc store built by `drqa-ng build-docs`")
    p.add_argument("out", type=Path, metavar="OUT_DIR", help="index folder to write")
    p.add_argument("--unit", choices=["paragraph", "passage", "doc"], default="paragraph")
    p.add_argument(
        "--factory",
        default="Flat",
        help='FAISS index factory string: "Flat" (exact), "HNSW32", "IVF4096,PQ48", "HNSW32,SQ8", ... '
        "(IVF nlist is lowered automatically for small corpora)",
    )
    p.add_argument(
        "--encoder",
        default=None,
        help="local model folder, or a name: tuned-minilm (the default: the shipped all-MiniLM-L6-v2 tuned "
        "on question-paragraph pairs), default (the untuned all-MiniLM-L6-v2 of the wheel)",
    )
    p.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx", "static"],
        type=lambda s: "onnx" if s == "onnx-int8" else s,  # the old spelling keeps working
        default="auto",
        help="encoder runtime; auto = torch on a CUDA GPU, int8 ONNX on CPU (queries use the same); "
        "static = a Model2Vec static model (--encoder DIR or a name: tuned-static, the shipped one tuned on "
        "question-paragraph pairs, the default; default-static, distilled once from the bundled MiniLM "
        "and cached): ~minutes per million paragraphs on a CPU, lower recall than MiniLM",
    )
    p.add_argument("--batch-size", type=int, default=64, help="texts per encoder call (default 64)")
    p.add_argument("--chunk-size", type=int, default=4096, help="units per saved chunk (resume granularity)")
    p.add_argument("--max-length", type=int, default=256, help="token cap for passages")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for the encoder (per task with --engine ray: 1)",
    )
    add_engine_options(p)
    p.set_defaults(func=_build)

    e = sub.add_parser(
        "eval-retrieval",
        help="top-k answer recall of one or more indexes (and their fusion) on a question set",
        description="Search every --index with the questions and measure recall@k (the answer occurs in a "
        "retrieved unit). With several indexes the fused hybrid is measured too, once per --fusion "
        "method, reusing each index's results (so a hybrid's seconds count the fusion only). Writes "
        "retrieval_metrics.json and recall_at_k.png into --out.",
    )
    e.add_argument("--questions", type=Path, required=True, help="SQuAD JSON or DrQA JSONL question file")
    e.add_argument("--articles", type=Path, default=None, help="keep SQuAD questions of these titles only")
    e.add_argument("--index", type=Path, action="append", required=True, help="index folder (repeatable)")
    e.add_argument("--docs", type=Path, required=True, help="doc store the indexes were built from")
    e.add_argument(
        "--fusion",
        choices=["rrf", "interp"],
        nargs="+",
        default=["rrf"],
        help="hybrid method(s) measured when there are several indexes",
    )
    e.add_argument(
        "--fusion-weight", type=float, default=None, help="interp: weight of the last --index (0..1)"
    )
    hidden_alias(e, "--weight", dest="fusion_weight", type=float)
    e.add_argument(
        "--fusion-depth",
        type=int,
        default=100,
        help="hits fetched from each index before fusion (default 100)",
    )
    hidden_alias(e, "--depth", dest="fusion_depth", type=int)
    e.add_argument("--out", type=Path, required=True, help="folder for metrics JSON and plot")
    e.add_argument("-k", type=int, nargs="+", default=[1, 5, 20, 100], help="cut-offs (default 1 5 20 100)")
    e.add_argument("--regex", action="store_true", help="answers are regular expressions (CuratedTREC)")
    e.add_argument("--limit", type=int, default=None, help="evaluate the first N questions only")
    e.add_argument(
        "--trec-run",
        action="store_true",
        help="also write each system's ranked lists as a TREC run file (qid Q0 docid rank score tag), "
        "run.<system>.trec in --out, tagged with the system's name, for trec_eval",
    )
    e.set_defaults(func=_eval)


def _build(args: argparse.Namespace) -> int:
    from drqa_ng.errors import InputError, NotFoundError
    from drqa_ng.retrieval.encoder import Encoder
    from indexing.dense import (
        STATIC_BATCH,
        STATIC_CHUNK,
        STATIC_MAX_LENGTH,
        build_dense_index,
        build_static_index,
    )

    if not args.docs.is_file():
        raise NotFoundError(f"doc store not found: {args.docs}")
    if args.backend == "static" and args.engine == "ray":
        raise InputError(
            "--backend static runs locally (it encodes ~minutes per million units); drop --engine ray"
        )
    backend: Literal["auto", "torch", "onnx-int8"] = (
        "onnx-int8" if args.backend == "onnx" else args.backend  # the encoder's name for it
    )
    if args.engine == "ray":
        from indexing.dense_ray import build_dense_ray

        res = build_dense_ray(
            args.docs,
            args.out,
            unit=args.unit,
            factory=args.factory,
            encoder_name=args.encoder,
            backend=backend,
            threads=args.threads or 1,
            batch_size=args.batch_size,
            chunk_size=args.chunk_size,
            max_length=args.max_length,
            address=args.ray_address,
            num_cpus=args.ray_cpus,
            shards=args.shards,
            work_dir=args.work_dir,
        )
        print(
            f"dense index {res.path}: {res.count} {args.unit} vectors, dim {res.dim}, {res.factory}, "
            f"{res.chunks} chunks ({res.chunks - res.chunks_encoded} resumed), {res.seconds:.1f} s (ray)"
        )
        return 0
    if args.backend == "static":
        res = build_static_index(
            args.docs,
            args.out,
            args.unit,
            args.encoder,
            args.factory,
            batch_size=max(args.batch_size, STATIC_BATCH),
            chunk_size=max(args.chunk_size, STATIC_CHUNK),
            max_length=max(args.max_length, STATIC_MAX_LENGTH),
            progress=not args.quiet,
        )
    else:
        enc = Encoder.load(args.encoder, backend=backend, max_length=args.max_length, threads=args.threads)
        res = build_dense_index(
            args.docs,
            args.out,
            unit=args.unit,
            factory=args.factory,
            encoder=enc,
            batch_size=args.batch_size,
            chunk_size=args.chunk_size,
            max_length=args.max_length,
            progress=not args.quiet,
        )
    resumed = res.chunks - res.chunks_encoded
    kind = "static" if args.backend == "static" else "dense"
    print(
        f"{kind} index {res.path}: {res.count} {args.unit} vectors, dim {res.dim}, {res.factory}, "
        f"{res.chunks} chunks ({resumed} resumed), {res.seconds:.1f} s"
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from collections.abc import Sequence

    from drqa_ng.errors import InputError
    from drqa_ng.evaluation.datasets import load_questions
    from drqa_ng.evaluation.retrieval import evaluate_retrieval, write_report
    from drqa_ng.indexes import open_retriever
    from drqa_ng.inputs import read_article_list
    from drqa_ng.protocols import Retriever
    from drqa_ng.retrieval.fusion import HybridRetriever, SearchCache
    from drqa_ng.store.docstore import DocStore
    from drqa_ng.types import Hit

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be >= 1, got {args.limit}")
    articles = read_article_list(args.articles) if args.articles else None
    questions = load_questions(args.questions, articles)[: args.limit]
    store = DocStore.open(args.docs)
    systems: dict[str, Retriever] = {}
    for path in args.index:
        name = path.name
        while name in systems:
            name += "'"
        systems[name] = SearchCache(open_retriever(path))
    bases = list(systems.values())
    for method in dict.fromkeys(args.fusion) if len(bases) > 1 else ():
        w = args.fusion_weight
        label = f"hybrid-{method}" + (f"-w{w}" if method == "interp" and w else "")
        systems[label] = HybridRetriever(bases, method=method, weight=w, depth=args.fusion_depth)
    on_ranked = None
    if args.trec_run:
        from drqa_ng.evaluation.trec import check_trec_field, write_trec_run

        qids = [check_trec_field(q.id, "question id") for q in questions]
        runs: list[Path] = []

        def on_ranked(name: str, ranked: Sequence[Sequence[Hit]]) -> None:
            tag = "".join("_" if c.isspace() else c for c in name)
            runs.append(write_trec_run(args.out / f"run.{tag}.trec", qids, ranked, tag))

    report = evaluate_retrieval(questions, systems, store, ks=args.k, regex=args.regex, on_ranked=on_ranked)
    metrics, png = write_report(report, args.out)
    print(report.table())
    print(f"wrote {metrics} and {png}")
    if args.trec_run:
        print(f"wrote TREC runs {', '.join(str(r) for r in runs)}")
    return 0
