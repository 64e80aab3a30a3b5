"""Benchmark overlapped stages: questions/s of the QA pipeline with overlap on vs off, in one run.

Both modes run ``evaluation.qa.run_pipeline`` (what ``drqa-ng eval`` runs) over the same questions
on the same loaded pipeline: off = retrieve+tokenise, then read, batch after batch; on = batch i+1 is
retrieved and tokenised in a thread while the reader reads batch i (``drqa_ng.stages``). The modes
alternate ``--rounds`` times (off, on, off, on, ...) so a drift in machine load hits both; the table
sums each mode's rounds. It also prints the share of wall time each stage waited (the reader waiting
for prepared input, the preparing thread waiting for room in the queue), and checks that both modes
gave the same answers.

Without ``--index``/``--docs`` it builds (once, under ``--work``) a doc store of the SQuAD part-A
paragraphs and a BM25 paragraph index over it; the questions are a seeded sample of part-A's.

    nice -n 5 python scripts/bench_overlap.py --questions 500 --batch-size 8 --threads 2

GPU: this measures CPU only (the reader shipped is int8 ONNX on CPU); on a GPU box the same script
with a GPU reader would show where the overlap matters most.
"""

from __future__ import annotations

import argparse
import os
import random
from dataclasses import dataclass
from pathlib import Path

from drqa_ng.evaluation.datasets import Question, load_questions
from drqa_ng.evaluation.qa import run_pipeline
from drqa_ng.pipeline import QAPipeline, QAResult
from drqa_ng.stages import StageClock

DATA = Path(os.environ.get("DRQA_NG_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SQUAD = DATA / "squad" / "dev-v1.1-part-A.json"


@dataclass(frozen=True, slots=True)
class Row:
    mode: str
    questions: int
    wall: float
    reader_wait: float
    prepare_wait: float
    prepare_busy: float
    reader_busy: float

    @property
    def qps(self) -> float:
        return self.questions / self.wall if self.wall > 0 else 0.0


def build_corpus(work: Path) -> tuple[Path, Path]:
    """A doc store of the part-A SQuAD paragraphs and a BM25 paragraph index over it (cached in ``work``)."""
    from indexing.docstore import build_docstore
    from indexing.ingest import read_corpus
    from indexing.sparse import build_sparse_from_store

    docs, index = work / "squad.sqlite", work / "squad_bm25"
    work.mkdir(parents=True, exist_ok=True)
    if not docs.exists():
        build_docstore(read_corpus([SQUAD]), docs, show_progress=False, sources=[str(SQUAD)])
    if not index.exists():
        build_sparse_from_store(docs, index, unit="paragraph", buckets=2**20, show_progress=False)
    return docs, index


def run_mode(
    pipe: QAPipeline, questions: list[Question], batch: int, overlap: bool
) -> tuple[list[QAResult], StageClock]:
    clock = StageClock()
    results, _ = run_pipeline(pipe, questions, top_n=1, batch_size=batch, overlap=overlap, clock=clock)
    return results, clock


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="index folder (default: BM25 over SQuAD part-A, built)")
    ap.add_argument("--docs", type=Path, help="doc store of --index")
    ap.add_argument("--reader", type=Path, help="reader folder (default: the shipped int8 reader)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/drqa_ng_bench_overlap"))
    ap.add_argument("--questions", type=int, default=500)
    ap.add_argument("--batch-size", type=int, nargs="+", default=[1, 8], help="questions per batch")
    ap.add_argument("-k", type=int, default=5, help="retrieved paragraphs per question")
    ap.add_argument("--threads", type=int, default=2, help="reader threads")
    ap.add_argument(
        "--rounds", type=int, default=2, help="alternating off/on rounds (each over all questions / rounds)"
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    if args.index is None or args.docs is None:
        docs, index = build_corpus(args.work)
    else:
        docs, index = args.docs, args.index
    pipe = QAPipeline.from_paths([index], docs, args.reader, n_docs=args.k, threads=args.threads)
    qs = load_questions(SQUAD)
    qs = [qs[i] for i in sorted(random.Random(args.seed).sample(range(len(qs)), args.questions))]
    run_mode(pipe, qs[:8], 4, False)  # warm-up: sessions, caches

    print(
        f"{len(qs)} SQuAD part-A questions, BM25 k={args.k}, reader threads {args.threads}, "
        f"{os.cpu_count()} CPUs, {args.rounds} alternating rounds per mode\n"
    )
    print(
        "| batch | mode | questions | wall s | questions/s | reader waits | prepare waits | "
        "prepare busy | reader busy | on/off |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for batch in args.batch_size:
        per_round = -(-len(qs) // args.rounds)
        tot = {False: StageClock(), True: StageClock()}
        answers: dict[bool, list[str]] = {False: [], True: []}
        for r in range(args.rounds):
            part = qs[r * per_round : (r + 1) * per_round]
            for overlap in (False, True) if r % 2 == 0 else (True, False):
                res, clk = run_mode(pipe, part, batch, overlap)
                answers[overlap].extend(x.answers[0].text if x.answers else "" for x in res)
                t = tot[overlap]
                t.wall += clk.wall
                t.items += len(part)
                t.prepare_busy += clk.prepare_busy
                t.prepare_wait += clk.prepare_wait
                t.finish_busy += clk.finish_busy
                t.finish_wait += clk.finish_wait
        rows = {}
        for overlap in (False, True):
            t = tot[overlap]
            s = t.shares()
            rows[overlap] = Row(
                "on" if overlap else "off",
                t.items,
                t.wall,
                s.finish_wait,
                s.prepare_wait,
                s.prepare_busy,
                s.finish_busy,
            )
        ratio = rows[True].qps / rows[False].qps if rows[False].qps else 0.0
        for overlap in (False, True):
            row = rows[overlap]
            print(
                f"| {batch} | {row.mode} | {row.questions} | {row.wall:.1f} | {row.qps:.2f} | "
                f"{100 * row.reader_wait:.1f} % | {100 * row.prepare_wait:.1f} % | "
                f"{100 * row.prepare_busy:.1f} % | {100 * row.reader_busy:.1f} % | "
                + (f"{ratio:.3f}x |" if overlap else "1 |")
            )
        same = sum(a == b for a, b in zip(answers[False], answers[True], strict=True))
        print(f"|  | same top answer on/off | {same}/{len(answers[False])} |  |  |  |  |  |  |  |")


if __name__ == "__main__":
    main()
