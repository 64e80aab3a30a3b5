"""The position-checked placement run: scan a doc store's paragraphs for landings (in worker
processes, kept on disk), choose, write training records, and measure precision on questions whose
paragraph is known. The matching itself (PTB tokens, landings, the voting rule) is
``drqa_ng.reading.placement``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from drqa_ng.errors import DataFormatError, InputError
from drqa_ng.inputs import json_lines
from drqa_ng.reading.distant import same_paragraph
from drqa_ng.reading.placement import (
    LONE_OVERLAP,
    MIN_CHARS,
    MIN_OVERLAP,
    TOLERANCE,
    Landing,
    Placement,
    PTBTokenizer,
    SpanQuestion,
    SpanTable,
    choose,
    paragraph_body,
    read_known,
    read_span_questions,
)
from drqa_ng.store.docstore import DocStore

log = logging.getLogger(__name__)


# ---- the scan ----------------------------------------------------------------------------------------


def _scan_range(
    docs: Path, table: SpanTable, start: tuple[int, int] | None, stop: tuple[int, int] | None, min_chars: int
) -> tuple[list[Landing], int]:
    tok = PTBTokenizer()
    out: list[Landing] = []
    n = 0
    with DocStore.open(docs) as store:
        for p in store.iter_unit_range("paragraph", start, stop):
            _, body = paragraph_body(p.text)
            if len(body) < min_chars:
                continue
            n += 1
            out.extend(table.land(p.id, tok.tokenize(body)))
    return out, n


def _write_landings(path: Path, head: str, landings: Sequence[Landing]) -> None:
    """gzip TSV: the ``head`` line, then question, unit id, shift and overlap per landing (via a temp file)."""
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        f.write(f"{head}\n")
        for lg in landings:
            f.write(f"{lg.question}\t{lg.unit_id}\t{lg.shift}\t{lg.overlap:.4f}\n")
    tmp.replace(path)


def _read_landings(lines: Iterable[str]) -> list[Landing]:
    rows = (line.rstrip("\n").split("\t") for line in lines)
    return [Landing(int(q), u, int(sh), float(o)) for q, u, sh, o in rows]


def _read_part(path: Path) -> tuple[list[Landing], int]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        read = int(f.readline())
        return _read_landings(f), read


def scan(
    docs: Path,
    questions: Sequence[SpanQuestion],
    tolerance: int = TOLERANCE,
    min_chars: int = MIN_CHARS,
    workers: int = 2,
    shards: int = 64,
    progress: Callable[[int], None] | None = None,
    parts: Path | None = None,
) -> tuple[list[Landing], int]:
    """Landings of ``questions`` on every paragraph of ``docs`` of at least ``min_chars`` characters,
    and the number of such paragraphs. Runs ``shards`` unit ranges over ``workers`` processes;
    ``progress`` gets the paragraphs each finished range read. ``parts``: a folder where each finished
    range's landings are kept (``shard-NNNN.tsv.gz``) and read back instead of scanned again, so a
    stopped scan resumes (the caller keys the folder to the corpus, questions and settings)."""
    if not questions:
        return [], 0
    table = SpanTable(questions, tolerance)
    with DocStore.open(docs) as store:
        total = store.count("paragraph")
        keys = store.unit_keys("paragraph", max(1, -(-total // shards)))
    bounds: list[tuple[tuple[int, int] | None, tuple[int, int] | None]] = [
        (k, keys[i + 1] if i + 1 < len(keys) else None) for i, k in enumerate(keys)
    ]
    if parts is not None:
        parts.mkdir(parents=True, exist_ok=True)
    landings: list[Landing] = []
    read = 0

    def done(i: int, got: list[Landing], n: int, fresh: bool) -> None:
        nonlocal read
        if fresh and parts is not None:
            _write_landings(parts / f"shard-{i:04d}.tsv.gz", str(n), got)
        landings.extend(got)
        read += n
        if progress:
            progress(n)

    todo = []
    for i, (a, b) in enumerate(bounds):
        kept = parts / f"shard-{i:04d}.tsv.gz" if parts is not None else None
        if kept is not None and kept.is_file():
            done(i, *_read_part(kept), fresh=False)
        else:
            todo.append((i, a, b))
    if todo and parts is not None and len(todo) < len(bounds):
        log.info("scan resumes: %d of %d ranges kept in %s", len(bounds) - len(todo), len(bounds), parts)
    if workers <= 1:
        for i, a, b in todo:
            done(i, *_scan_range(docs, table, a, b, min_chars), fresh=True)
        return landings, read
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [(i, pool.submit(_scan_range, docs, table, a, b, min_chars)) for i, a, b in todo]
        for i, fut in futures:
            done(i, *fut.result(), fresh=True)
    return landings, read


# ---- the run -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlacementReport:
    """How a placement run went: ``placed`` of ``questions`` were written (``landed`` had a landing at
    all). Precision is measured on the ``known`` questions (held out of voting): ``known_placed`` of them
    were placed, ``known_correct`` on a version of their true paragraph (token-set Jaccard ≥ 0.5 with
    it). ``dedupe_*`` counts the same for questions that already had a paragraph (voting, not written)."""

    questions: int
    placed: int
    paragraphs_scanned: int
    landed: int
    known: int
    known_placed: int
    known_correct: int
    dedupe_placed: int
    dedupe_correct: int
    tolerance: int
    seconds: float
    out: Path

    def as_json(self) -> dict[str, object]:
        """The ``.report.json`` written beside the output."""
        return {
            "mode": "positions",
            "questions": self.questions,
            "landed": self.landed,
            "placed": self.placed,
            "paragraphs_scanned": self.paragraphs_scanned,
            "known": self.known,
            "known_placed": self.known_placed,
            "known_correct": self.known_correct,
            "precision": self.known_correct / self.known_placed if self.known_placed else None,
            "dedupe_placed": self.dedupe_placed,
            "dedupe_correct": self.dedupe_correct,
            "tolerance": self.tolerance,
            "seconds": round(self.seconds, 1),
            "out": str(self.out),
        }


def placement_records(
    placements: Sequence[Placement], questions: Sequence[SpanQuestion], store: DocStore, source: str
) -> Iterator[dict[str, object]]:
    """Training records (unified reader-train layout) for the placements: the paragraph as the corpus
    writes it, the answer's characters found through the token spans."""
    tok = PTBTokenizer()
    units = store.get_passages([p.unit_id for p in placements])
    for pl, unit in zip(placements, units, strict=True):
        if unit is None:
            continue
        q = questions[pl.question]
        _, body = paragraph_body(unit.text)
        spans = tok.spans(body)
        i = q.start + pl.shift
        j = i + len(q.answer) - 1
        if j >= len(spans):
            continue
        a, b = spans[i][1], spans[j][2]
        if b <= a:
            continue
        yield {
            "id": q.id,
            "source": source,
            "title": unit.title,
            "context": body,
            "question": q.question,
            "answers": [{"text": body[a:b], "answer_start": a}],
            "ds": {"unit": unit.id, "votes": pl.votes, "overlap": round(pl.overlap, 3), "shift": pl.shift},
        }


def read_with_context(paths: Sequence[Path]) -> dict[str, str]:
    """Question (PTB-tokenised, as the span files write it) -> context, for files in the unified layout
    with raw text (e.g. ``squad_train_head``): their questions already have a paragraph."""
    tok = PTBTokenizer()
    out: dict[str, str] = {}
    for path in paths:
        for lineno, obj in json_lines(path):
            try:
                out[" ".join(tok.tokenize(str(obj["question"]).strip()))] = str(obj["context"])
            except (KeyError, TypeError) as err:
                raise DataFormatError(f"{path}:{lineno}: expected {{'question', 'context'}}: {err}") from err
    return out


def _landings_key(docs: Path, questions: Sequence[SpanQuestion], tolerance: int, min_chars: int) -> str:
    with DocStore.open(docs) as store:
        corpus = store.corpus_hash()
    h = hashlib.sha256(f"{corpus}|{tolerance}|{min_chars}".encode())
    for q in questions:
        h.update(f"{q.question}\t{' '.join(q.answer)}\t{q.start}\n".encode())
    return h.hexdigest()


def cached_scan(
    cache: Path,
    docs: Path,
    questions: Sequence[SpanQuestion],
    tolerance: int = TOLERANCE,
    min_chars: int = MIN_CHARS,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Landing], int]:
    """``scan``, kept in ``cache`` (gzip TSV, first line a key over the corpus hash, the questions and
    the settings): a rerun with other choice settings reads it instead of tokenising the corpus again.
    Until the scan is complete its finished ranges are kept beside ``cache`` (``.parts-<key>``), so a
    stopped run resumes where it stopped."""
    key = _landings_key(docs, questions, tolerance, min_chars)
    if cache.is_file():
        with gzip.open(cache, "rt", encoding="utf-8") as f:
            head = f.readline().rstrip("\n").split("\t")
            if head[:1] == [key]:
                log.info("landings read from %s", cache)
                return _read_landings(f), int(head[1])
    parts = cache.with_name(f"{cache.name}.parts-{key[:16]}")  # finished ranges: a stopped scan resumes
    landings, scanned = scan(docs, questions, tolerance, min_chars, workers, progress=progress, parts=parts)
    _write_landings(cache, f"{key}\t{scanned}", landings)
    shutil.rmtree(parts, ignore_errors=True)
    return landings, scanned


def place_questions(
    files: Sequence[Path],
    docs: Path,
    out: Path,
    known_files: Sequence[Path] = (),
    dedupe_against: Sequence[Path] = (),
    tolerance: int = TOLERANCE,
    min_chars: int = MIN_CHARS,
    workers: int = 2,
    source: str = "squad-placed",
    progress: Callable[[int], None] | None = None,
    min_overlap: float = MIN_OVERLAP,
    lone_overlap: float = LONE_OVERLAP,
) -> PlacementReport:
    """The whole position-checked run.

    Questions of ``files`` are placed and written to ``out`` (+ ``.report.json``) as training records,
    except those of ``dedupe_against`` (raw-text files whose questions already have their paragraph:
    they vote, are not written, and their agreement with the known paragraph is reported). The
    ``known_files`` questions (tokenised contexts, e.g. the cs224n files) are added as held-out span
    questions: placed, never voting, never written; placement precision is measured on them. The scan's
    landings are kept beside ``out`` (``.landings.tsv.gz``), so a rerun with other ``min_overlap`` /
    ``lone_overlap`` settings is quick.
    """
    if not out.name.endswith((".jsonl", ".jsonl.gz")):
        raise InputError(f"--out must end in .jsonl or .jsonl.gz: {out}")
    t0 = time.perf_counter()
    known = read_known(known_files)
    known_texts = {k.question.question for k in known}
    have_context = read_with_context(dedupe_against)
    questions = read_span_questions(files, skip=known_texts)
    n_train = len(questions)
    questions += [k.question for k in known]
    landings, scanned = cached_scan(
        out.with_name(out.name + ".landings.tsv.gz"), docs, questions, tolerance, min_chars, workers, progress
    )
    placements = choose(landings, questions, min_overlap, lone_overlap)
    train = [
        p for p in placements if p.question < n_train and questions[p.question].question not in have_context
    ]
    known_placed = [p for p in placements if p.question >= n_train]
    dedupe_placed = [
        p for p in placements if p.question < n_train and questions[p.question].question in have_context
    ]
    with DocStore.open(docs) as store:

        def agree(placed: Sequence[Placement], context: Callable[[Placement], str]) -> int:
            units = store.get_passages([p.unit_id for p in placed])
            return sum(
                1
                for p, u in zip(placed, units, strict=True)
                if u is not None and same_paragraph(paragraph_body(u.text)[1], context(p))
            )

        correct = agree(known_placed, lambda p: known[p.question - n_train].context)
        dedupe_correct = agree(dedupe_placed, lambda p: have_context[questions[p.question].question])
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        opener = gzip.open if out.name.endswith(".gz") else open
        written = 0
        with opener(tmp, "wt", encoding="utf-8") as f:
            for rec in placement_records(train, questions, store, source):
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                written += 1
        tmp.replace(out)
    report = PlacementReport(
        questions=n_train,
        placed=written,
        paragraphs_scanned=scanned,
        landed=len({lg.question for lg in landings if lg.question < n_train}),
        known=len(known),
        known_placed=len(known_placed),
        known_correct=correct,
        dedupe_placed=len(dedupe_placed),
        dedupe_correct=dedupe_correct,
        tolerance=tolerance,
        seconds=time.perf_counter() - t0,
        out=out,
    )
    out.with_name(out.name + ".report.json").write_text(json.dumps(report.as_json(), indent=2) + "\n")
    return report
