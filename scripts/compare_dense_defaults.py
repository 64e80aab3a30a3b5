"""BM25 vs static (Model2Vec) vs MiniLM dense vs fused retrieval on the four shared question sets.

Measures what the quickstart default should be (issue 13 item 6) on a data home that holds
``sparse/`` (BM25) and ``static/`` (static dense) over the whole corpus. A full MiniLM index of the
corpus takes ~45 min on 2 idle cores, so MiniLM is measured on a **pool**: the union of every sampled
question's BM25 top-``pool_k`` and static top-``pool_k`` plus ``distractors`` random paragraphs;
MiniLM ranks only that pool. That is an approximation in MiniLM's favour (paragraphs outside the pool
that MiniLM would rank above the gold one are missing) and in its disfavour (answer paragraphs only
MiniLM would find are missing); ``static@bm25pool`` (static restricted to a pool made WITHOUT its own
top list) against ``static`` (full corpus) shows the size of the first effect for a dense retriever.

Splits: SQuAD part-A train articles (tune) vs validation articles (test); the other sets are split
by a hash of the question id (even = tune, odd = test). Fusion weights are chosen on tune only.

    python3 scripts/compare_dense_defaults.py rank --home H --out O [--per-split 100]
    python3 scripts/compare_dense_defaults.py score --home H --out O [--e2e]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drqa_ng.evaluation.datasets import Question, load_questions
from drqa_ng.evaluation.retrieval import first_answer_rank
from drqa_ng.inputs import read_article_list
from drqa_ng.retrieval.fusion import interpolate, reciprocal_rank_fusion
from drqa_ng.types import Hit, doc_id_of

log = logging.getLogger("compare_dense_defaults")

SETS = {
    "squad": "squad/dev-v1.1-part-A.json",
    "webquestions": "qa/webquestions-train.jsonl",
    "curatedtrec": "qa/curatedtrec-train.jsonl",
    "wikimovies": "qa/wikimovies-dev.jsonl",
}
DEPTH = 100
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))


def split_of(q: Question) -> str:
    """tune/test by the parity of the first byte of sha1(id) (stable, independent of file order)."""
    return "tune" if hashlib.sha1(q.id.encode()).digest()[0] % 2 == 0 else "test"


def sample_sets(data: Path, per_split: int, seed: int) -> dict[str, dict[str, list[Question]]]:
    out: dict[str, dict[str, list[Question]]] = {}
    for name, rel in SETS.items():
        if name == "squad":
            base = data / "squad"
            parts = {
                "tune": load_questions(data / rel, read_article_list(base / "part-A-train-articles.txt")),
                "test": load_questions(
                    data / rel, read_article_list(base / "part-A-validation-articles.txt")
                ),
            }
        else:
            qs = load_questions(data / rel)
            parts = {s: [q for q in qs if split_of(q) == s] for s in ("tune", "test")}
        rng = random.Random(seed)
        out[name] = {s: rng.sample(qs, min(per_split, len(qs))) for s, qs in parts.items()}
    return out


def hits_json(hits: Sequence[Hit]) -> list[list[object]]:
    return [[h.id, round(h.score, 6)] for h in hits]


def hits_from(rows: Sequence[Sequence[object]]) -> list[Hit]:
    return [Hit(id=str(i), doc_id=doc_id_of(str(i)), score=float(s)) for i, s in rows]  # type: ignore[arg-type]


def rank(args: argparse.Namespace) -> None:
    from drqa_ng.index_io import StringArray
    from drqa_ng.retrieval.dense import DenseIndex
    from drqa_ng.retrieval.encoder import Encoder
    from drqa_ng.retrieval.sparse import SparseIndex
    from drqa_ng.store.docstore import DocStore
    from indexing.dense import unit_text

    args.out.mkdir(parents=True, exist_ok=True)
    sets = sample_sets(args.data, args.per_split, args.seed)
    questions = [(name, s, q) for name, parts in sets.items() for s, qs in parts.items() for q in qs]
    texts = [q.question for _, _, q in questions]
    bm25 = SparseIndex.open(args.home / "sparse").search(texts, DEPTH)
    static_index = DenseIndex.open(args.home / "static", use_gpu=False)
    static = static_index.search(texts, DEPTH)
    if args.skip_minilm:  # exact full-corpus rankings only (BM25, static): affordable for many questions
        _write_rows(args.out, questions, {"bm25": bm25, "static": static})
        return
    all_ids = StringArray.open(args.home / "static", "ids")
    rng = np.random.default_rng(args.seed)
    randoms = [all_ids[int(i)] for i in rng.choice(len(all_ids), size=args.distractors, replace=False)]
    bm25_pool = {h.id for hits in bm25 for h in hits[: args.pool_k]} | set(randoms)
    pool = sorted(bm25_pool | {h.id for hits in static for h in hits[: args.pool_k]})
    log.info(
        "%d questions; pool of %d paragraphs (%d from BM25 + random)", len(texts), len(pool), len(bm25_pool)
    )

    # static restricted to the BM25+random pool: how much a pool flatters a dense retriever
    pool_rows = np.array(sorted(np.searchsorted(np.array(pool), list(bm25_pool))))
    store = DocStore.open(args.home / "docs.sqlite")
    passages = store.get_passages(pool)
    enc_static = static_index.encoder
    qv_static = np.vstack([enc_static.encode([t]) for t in texts])
    pv_static = enc_static.encode([unit_text(p) if p else "" for p in passages], max_length=512)
    static_bm25pool = _top(qv_static, pv_static[pool_rows], [pool[i] for i in pool_rows])

    # MiniLM over the pool, in checkpointed chunks (resumable)
    encoder = Encoder.load(None, backend=args.backend, max_length=256)
    chunks = []
    for a in range(0, len(pool), 4096):
        path = args.out / f"minilm-{a:07d}-{len(pool)}.npy"
        if not path.is_file():
            t0 = time.perf_counter()
            vecs = encoder.encode([unit_text(p) if p else "" for p in passages[a : a + 4096]], batch_size=64)
            np.save(path, vecs)
            log.info("minilm chunk %d: %.0f paragraphs/s", a, len(vecs) / (time.perf_counter() - t0))
        chunks.append(np.load(path))
    pv = np.vstack(chunks)
    qv = np.vstack([encoder.encode([t], max_length=64) for t in texts])
    minilm = _top(qv, pv, pool)

    _write_rows(
        args.out,
        questions,
        {"bm25": bm25, "static": static, "static_bm25pool": static_bm25pool, "minilm_pool": minilm},
    )
    (args.out / "pool.json").write_text(
        json.dumps({"pool": len(pool), "bm25_random_pool": len(bm25_pool), "distractors": args.distractors})
    )


def _write_rows(
    out: Path, questions: Sequence[tuple[str, str, Question]], systems: dict[str, list[list[Hit]]]
) -> None:
    with open(out / "rankings.jsonl", "w", encoding="utf-8") as f:
        for i, (name, split, q) in enumerate(questions):
            row: dict[str, object] = {
                "set": name,
                "split": split,
                "id": q.id,
                "question": q.question,
                "answers": list(q.answers),
            }
            row.update({sy: hits_json(ranked[i]) for sy, ranked in systems.items()})
            f.write(json.dumps(row) + "\n")


def _top(qv: np.ndarray, pv: np.ndarray, ids: Sequence[str]) -> list[list[Hit]]:
    scores = qv @ pv.T
    out = []
    for row in scores:
        top = np.argsort(-row, kind="stable")[:DEPTH]
        out.append([Hit(id=ids[j], doc_id=doc_id_of(ids[j]), score=float(row[j])) for j in top])
    return out


def fused(r: dict[str, object], system: str) -> list[Hit]:
    """A system name: a base ranking, ``rrf:a+b`` or ``interp(w):a+b`` (w = weight of b)."""
    if ":" not in system:
        return hits_from(r[system])  # type: ignore[arg-type]
    method, pair = system.split(":")
    a, b = (hits_from(r[x]) for x in pair.split("+"))  # type: ignore[arg-type]
    if method == "rrf":
        return reciprocal_rank_fusion([a, b], DEPTH)
    w = float(method[len("interp(") : -1])
    return interpolate([a, b], [1.0 - w, w], DEPTH)


def recall5(rows: Sequence[dict[str, object]], system: str, texts: dict[str, str]) -> float:
    hits = 0
    for r in rows:
        ranked = fused(r, system)[:5]
        answers = r["answers"]
        if first_answer_rank(ranked, texts, answers, regex=r["set"] == "curatedtrec") is not None:  # type: ignore[arg-type]
            hits += 1
    return 100.0 * hits / max(len(rows), 1)


def score(args: argparse.Namespace) -> None:
    from drqa_ng.store.docstore import DocStore

    with open(args.out / "rankings.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    store = DocStore.open(args.home / "docs.sqlite")
    bases = [b for b in ("bm25", "static", "static_bm25pool", "minilm_pool") if b in rows[0]]
    need = sorted({h[0] for r in rows for key in bases for h in r[key]})
    texts = {i: (p.text if p else "") for i, p in zip(need, store.get_passages(need), strict=True)}
    pairs = tuple(
        p for p in ("bm25+static", "bm25+minilm_pool", "static+minilm_pool") if p.split("+")[1] in bases
    )
    tune = [r for r in rows if r["split"] == "tune"]
    chosen: dict[str, str] = {}
    report: dict[str, object] = {}
    for pair in pairs:
        by_w = {
            w: np.mean(
                [recall5([r for r in tune if r["set"] == s], f"interp({w}):{pair}", texts) for s in SETS]
            )
            for w in WEIGHTS
        }
        best = max(WEIGHTS, key=lambda w: (by_w[w], -abs(w - 0.5)))
        chosen[pair] = f"interp({best}):{pair}"
        report[f"tune_curve {pair}"] = {str(w): round(float(v), 1) for w, v in by_w.items()}
    systems = list(bases)
    systems += [f"rrf:{p}" for p in pairs] + [f"interp(0.5):{p}" for p in pairs] + list(chosen.values())
    table = {}
    for split in ("tune", "test"):
        for s in SETS:
            sub = [r for r in rows if r["split"] == split and r["set"] == s]
            table[f"{split}/{s} (n={len(sub)})"] = {sy: round(recall5(sub, sy, texts), 1) for sy in systems}
    report["R@5"] = table
    report["chosen"] = chosen
    print(json.dumps(report, indent=1))
    (args.out / "recall.json").write_text(json.dumps(report, indent=1))
    if args.e2e:
        report["EM"] = end_to_end(
            args,
            [r for r in rows if r["split"] == "test"],
            [*[b for b in ("bm25", "static", "minilm_pool") if b in bases], *chosen.values()],
            store,
        )
        (args.out / "recall.json").write_text(json.dumps(report, indent=1))
        print(json.dumps(report["EM"], indent=1))


class _Fixed:
    """A retriever that answers from precomputed rankings (keyed by question text)."""

    unit = "paragraph"

    def __init__(self, ranked: dict[str, list[Hit]]) -> None:
        self.ranked = {" ".join(q.split()): hits for q, hits in ranked.items()}

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        # the pipeline tidies whitespace before retrieval
        return [self.ranked[" ".join(q.split())][:k] for q in queries]


def end_to_end(
    args: argparse.Namespace, rows: list[dict[str, object]], systems: Sequence[str], store: object
) -> dict[str, dict[str, float]]:
    from drqa_ng.evaluation.datasets import Question
    from drqa_ng.evaluation.qa import score_prediction
    from drqa_ng.pipeline import QAPipeline
    from drqa_ng.reading.reader import load_reader

    reader = load_reader(None, threads=args.threads)
    out: dict[str, dict[str, float]] = {}
    for s in SETS:
        sub = [r for r in rows if r["set"] == s][: args.e2e_limit]
        for system in systems:
            ranked = {str(r["question"]): fused(r, system) for r in sub}
            pipe = QAPipeline(_Fixed(ranked), store, reader, k=5)  # type: ignore[arg-type]
            ems = []
            for r in sub:
                res = pipe.ask_detailed([str(r["question"])], top_n=1)[0]
                q = Question(id=str(r["id"]), question=str(r["question"]), answers=tuple(r["answers"]))  # type: ignore[arg-type]
                ems.append(score_prediction(q, res, regex=s == "curatedtrec").em)
            out.setdefault(f"{s} (n={len(sub)})", {})[system] = round(100.0 * float(np.mean(ems)), 1)
            log.info("EM %s %s: %.1f", s, system, out[f"{s} (n={len(sub)})"][system])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=("rank", "score"))
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--per-split", type=int, default=100)
    p.add_argument("--pool-k", type=int, default=20)
    p.add_argument("--distractors", type=int, default=5000)
    p.add_argument("--backend", default="onnx-int8")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-minilm", action="store_true", help="rank: BM25 and static only (no pool)")
    p.add_argument("--e2e", action="store_true")
    p.add_argument("--e2e-limit", type=int, default=100)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    rank(args) if args.step == "rank" else score(args)


if __name__ == "__main__":
    main()
