"""Distant supervision: give paragraph-less (question, answer) pairs a paragraph from the corpus.

DrQA's recipe (Chen et al. 2017, section 3.3), written here for our retriever and doc store: retrieve
the question's top paragraphs, keep those that contain the answer, drop very short or very long ones,
and rank the rest by how well the words around the answer match the question. The best paragraph
becomes a training example with the answer's character offset.

Matching is whitespace-insensitive between tokens (``"84 %"`` finds ``"84%"``), because some
question files are tokenised (spaces around punctuation) while the corpus is plain text.
Pure functions take text; ``supervise`` runs them over retriever hits in batches;
``select_records`` and ``distant_supervise`` are the whole ``drqa-ng distant-supervise`` run (read and
dedupe the questions, match them, write the training file and its report).
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from drqa_ng.errors import DataFormatError, InputError
from drqa_ng.inputs import open_text
from drqa_ng.protocols import PassageStore, Retriever
from drqa_ng.retrieval.tokenize import ngrams, token_texts
from drqa_ng.types import Hit, Passage

MIN_CHARS = 25  # DrQA's paragraph length filter
MAX_CHARS = 1500
WINDOW = 20  # tokens each side of the answer used for the overlap score
_SPLIT = re.compile(r"\w+|[^\w\s]", re.UNICODE)


MAX_ANSWER_CHARS = 100  # a regex answer (``.*``) may match far more than an answer


@dataclass(frozen=True, slots=True)
class DSQuestion:
    """A question with its answer and no paragraph.

    ``alternatives`` are further gold answers (any may match); with ``regex`` every answer is a
    regular expression (CuratedTREC), matched case-insensitively as DrQA's ``regex_match`` does.
    """

    id: str
    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    regex: bool = False


@dataclass(frozen=True, slots=True)
class DSMatch:
    """The paragraph chosen for a question, with the answer as it is written there."""

    question: DSQuestion
    passage: Passage
    answer_text: str
    answer_start: int
    overlap: int
    rank: int


def answer_pattern(answer: str) -> re.Pattern[str] | None:
    """A regex for ``answer`` with any whitespace (or none) between its tokens, on word boundaries.

    None for an answer without a word character (nothing to anchor a match on).
    """
    parts = _SPLIT.findall(answer)
    if not any(re.match(r"\w", p) for p in parts):
        return None
    body = r"\s*".join(re.escape(p) for p in parts)
    return re.compile(rf"(?<!\w){body}(?!\w)")


def answer_patterns(q: DSQuestion) -> list[re.Pattern[str]]:
    """The patterns of every gold answer of ``q`` (invalid regexes and word-less answers skipped)."""
    out = []
    for a in (q.answer, *q.alternatives):
        if q.regex:
            try:
                out.append(re.compile(a, re.IGNORECASE | re.UNICODE))
            except re.error:
                continue
        elif (pat := answer_pattern(a)) is not None:
            out.append(pat)
    return out


def question_grams(question: str) -> set[str]:
    """G(question): the filtered uni+bigrams ``overlap_score`` compares, computed once per question."""
    return set(ngrams(token_texts(question)))


def overlap_score(qgrams: set[str], text: str, start: int, end: int, window: int = WINDOW) -> int:
    """Shared filtered unigrams + bigrams of the question and the ``window`` tokens each side of ``[start, end)``.

    score = |G(question) ∩ (G(left window) ∪ G(right window))|, G = the set of uni+bigrams that survive
    DrQA's stopword/punctuation filter (``qgrams`` = ``question_grams(question)``). The answer's own
    tokens are excluded, so a paragraph is not rewarded for the answer itself.
    """
    before = token_texts(text[:start])
    left = before[max(0, len(before) - window) :]  # not [-window:], which is everything when window is 0
    right = token_texts(text[end:])[:window]
    context = set(ngrams(left)) | set(ngrams(right))
    return len(qgrams & context)


def best_match(q: DSQuestion, passages: Sequence[Passage]) -> DSMatch | None:
    """The passage (in retrieval order) whose answer occurrence has the highest overlap score.

    Passages shorter than ``MIN_CHARS`` or longer than ``MAX_CHARS`` are skipped, as are matches
    with no overlap at all (the answer string alone is weak evidence). Ties go to the better rank.
    """
    pats = answer_patterns(q)
    if not pats:
        return None
    qgrams = question_grams(q.question)
    best: DSMatch | None = None
    for rank, p in enumerate(passages):
        if not MIN_CHARS <= len(p.text) <= MAX_CHARS:
            continue
        for m in (m for pat in pats for m in pat.finditer(p.text)):
            if not m.group().strip() or len(m.group()) > MAX_ANSWER_CHARS:
                continue
            score = overlap_score(qgrams, p.text, m.start(), m.end())
            if score > 0 and (best is None or score > best.overlap):
                best = DSMatch(q, p, m.group(), m.start(), score, rank)
    return best


def supervise(
    questions: Sequence[DSQuestion],
    search: Callable[[list[str], int], list[list[Hit]]],
    fetch: Callable[[list[str]], list[Passage | None]],
    *,
    k: int = 20,
    keep: Callable[[Hit], bool] = lambda h: True,
    batch_size: int = 256,
) -> Iterator[DSMatch | None]:
    """``best_match`` over the top ``k`` retrieved units of each question, one result per question in order.

    ``search(queries, k)`` is a retriever's batched search, ``fetch(unit_ids)`` the doc store's
    ``get_passages``; ``keep`` drops hits (e.g. documents of an evaluation split).
    """
    for i in range(0, len(questions), batch_size):
        batch = questions[i : i + batch_size]
        hits = search([q.question for q in batch], k)
        wanted = [[h for h in hs if keep(h)] for hs in hits]
        flat = fetch([h.id for hs in wanted for h in hs])
        pos = 0
        for q, hs in zip(batch, wanted, strict=True):
            passages = [p for p in flat[pos : pos + len(hs)] if p is not None]
            pos += len(hs)
            yield best_match(q, passages)


def same_paragraph(a: str, b: str, threshold: float = 0.5) -> bool:
    """Whether two paragraph texts are versions of one paragraph: token-set Jaccard ≥ ``threshold``.

    J(a, b) = |T(a) ∩ T(b)| / |T(a) ∪ T(b)| over normalised tokens; used to check a distant match
    against the true SQuAD paragraph, whose Wikipedia revision differs from the corpus's.
    """
    ta, tb = set(token_texts(a)), set(token_texts(b))
    if not ta or not tb:
        return False
    return len(ta & tb) / len(ta | tb) >= threshold


@dataclass(frozen=True, slots=True)
class DSRecord:
    """A question read for distant supervision; ``title``/``context`` are the truth where the file has it."""

    question: DSQuestion
    title: str | None = None
    context: str | None = None


def read_records(path: Path, regex: bool = False) -> list[DSRecord]:
    """Questions from JSON lines (``.jsonl[.gz]``): the noctx layout ``{"id","question","answer"}``,
    DrQA's format A ``{"id","question","answer": [golds]}`` (``regex``: golds are regular expressions)
    or the unified layout with ``answers: [{"text", ...}]`` (and ``title``/``context``, kept as the truth)."""
    out: list[DSRecord] = []
    with open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                question = str(obj["question"])
                answers = obj.get("answers")
                golds = [str(a["text"]) for a in answers] if answers else obj["answer"]
                golds = [str(g) for g in golds] if isinstance(golds, list) else [str(golds)]
                answer = golds[0]
            except (json.JSONDecodeError, KeyError, IndexError, TypeError) as e:
                raise DataFormatError(
                    f"{path}:{lineno}: expected {{'question', 'answer'}} or {{'question', 'answers': [{{'text'}}]}}: {e}"
                ) from e
            qid = str(obj.get("id", f"{path.name}:{lineno}"))
            q = DSQuestion(qid, question, answer, tuple(g for g in golds[1:] if g != answer), regex)
            ctx = obj.get("context")
            out.append(DSRecord(q, obj.get("title"), None if ctx is None else str(ctx)))
    return out


def confident(m: DSMatch, max_rank: int | None = None, min_overlap: int = 1) -> bool:
    """Whether a match is kept: its paragraph is among the first ``max_rank`` retrieved (``m.rank`` counts
    from 0; None = any of the top k) and its overlap score is at least ``min_overlap``.

    On the SQuAD train head (true paragraphs known, k = 20) all matches are the same paragraph 49.0 % of
    the time; ``max_rank=1, min_overlap=3`` keeps 29 % of them at 68.8 %."""
    return (max_rank is None or m.rank < max_rank) and m.overlap >= min_overlap


def match_record(m: DSMatch, source: str) -> dict[str, object]:
    """A training record in the unified reader-train layout (readable by ``load_examples``)."""
    return {
        "id": m.question.id,
        "source": source,
        "title": m.passage.title,
        "context": m.passage.text,
        "question": m.question.question,
        "answers": [{"text": m.answer_text, "answer_start": m.answer_start}],
        "ds": {"unit": m.passage.id, "rank": m.rank, "overlap": m.overlap},
    }


@dataclass(frozen=True, slots=True)
class DistantReport:
    """How a distant-supervision run went: ``matched`` of ``questions`` got a paragraph; of the
    ``known_questions`` whose file has the true paragraph, ``known_matched`` matched, ``same_paragraph``
    of those are that paragraph (``same_paragraph``) and ``same_title`` of the ``titled_matched`` ones
    (those with a title) come from its article."""

    questions: int
    matched: int
    seconds: float
    known_questions: int
    known_matched: int
    same_title: int
    titled_matched: int
    same_paragraph: int
    k: int
    files: tuple[str, ...]
    out: Path
    max_rank: int | None = None
    min_overlap: int = 1

    def as_json(self) -> dict[str, object]:
        """The ``.report.json`` written beside the output (precisions as fractions, None without data)."""
        return {
            "questions": self.questions,
            "matched": self.matched,
            "seconds": round(self.seconds, 1),
            "known_questions": self.known_questions,
            "known_matched": self.known_matched,
            "precision_same_title": self.same_title / self.titled_matched if self.titled_matched else None,
            "titled_matched": self.titled_matched,
            "precision_same_paragraph": (
                self.same_paragraph / self.known_matched if self.known_matched else None
            ),
            "k": self.k,
            "max_rank": self.max_rank,
            "min_overlap": self.min_overlap,
            "files": list(self.files),
            "out": str(self.out),
        }


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with 0 <= I < N; InputError otherwise."""
    i, sep, n = text.partition("/")
    if not (sep and i.isdigit() and n.isdigit() and int(i) < int(n)):
        raise InputError(f"--shard wants I/N with 0 <= I < N, got {text!r}")
    return int(i), int(n)


def select_records(
    files: Sequence[Path],
    *,
    dedupe_against: Sequence[Path] = (),
    hold_out: Collection[str] = (),
    limit: int | None = None,
    shard: tuple[int, int] | None = None,
    regex: bool = False,
) -> list[DSRecord]:
    """The first ``limit`` records of each file, minus questions found in ``dedupe_against`` or equal to one
    of ``hold_out`` (questions kept for evaluation; both compared on tokens, so tokenised "France ?" and
    plain "France?" agree), then records ``i, i+n, ...`` of ``shard``."""

    def key(question: str) -> str:
        return " ".join(token_texts(question))

    seen = {key(r.question.question) for f in dedupe_against for r in read_records(f)}
    seen |= {key(q) for q in hold_out}
    records: list[DSRecord] = []
    for f in files:
        rs = read_records(f, regex=regex)
        rs = rs[:limit] if limit else rs
        records += [r for r in rs if key(r.question.question) not in seen]
    if shard is not None:
        records = records[shard[0] :: shard[1]]
    return records


def check_run(k: int, out: Path, max_rank: int | None = None, min_overlap: int = 1) -> None:
    """InputError unless ``k >= 1``, ``max_rank`` (when set) and ``min_overlap`` are >= 1 and ``out`` ends in
    ``.jsonl`` or ``.jsonl.gz`` (checked before any work)."""
    if k < 1:
        raise InputError(f"-k must be >= 1, got {k}")
    if max_rank is not None and max_rank < 1:
        raise InputError(f"--max-rank must be >= 1, got {max_rank}")
    if min_overlap < 1:
        raise InputError(f"--min-overlap must be >= 1, got {min_overlap}")
    if not out.name.endswith((".jsonl", ".jsonl.gz")):
        raise InputError(f"--out must end in .jsonl or .jsonl.gz, got {out.name}")


def report_path(out: Path) -> Path:
    """``x.jsonl.gz`` -> ``x.report.json``."""
    return out.with_name(out.name.split(".jsonl")[0] + ".report.json")


def distant_supervise(
    records: Sequence[DSRecord],
    retriever: Retriever,
    store: PassageStore,
    out: Path,
    *,
    k: int = 20,
    exclude_prefixes: Sequence[str] = (),
    source: str = "distant",
    files: Sequence[Path] = (),
    progress: Callable[[int], object] | None = None,
    max_rank: int | None = None,
    min_overlap: int = 1,
) -> DistantReport:
    """Match every record (``supervise``), write the matches to ``out`` (``.jsonl`` or ``.jsonl.gz``, via a
    temp file renamed into place) and the report to ``report_path(out)``; score known paragraphs.

    ``exclude_prefixes`` drops hits whose doc id starts with one (e.g. an evaluation split's documents);
    matches that are not ``confident(m, max_rank, min_overlap)`` count as unmatched.
    """
    from drqa_ng.store.docstore import title_key

    check_run(k, out, max_rank, min_overlap)
    prefixes = tuple(exclude_prefixes)
    t0 = time.perf_counter()
    matched = same_title = titled = same_para = known = known_matched = 0
    tmp = out.with_name(f".{out.name}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if out.name.endswith(".gz") else open
    with opener(tmp, "wt", encoding="utf-8") as f:
        results = supervise(
            [r.question for r in records],
            retriever.search,
            store.get_passages,
            k=k,
            keep=lambda h: not h.doc_id.startswith(prefixes) if prefixes else True,
        )
        for rec, m in zip(records, results, strict=True):
            if progress is not None:
                progress(1)
            if rec.context is not None:
                known += 1
            if m is None or not confident(m, max_rank, min_overlap):
                continue
            matched += 1
            f.write(json.dumps(match_record(m, source), ensure_ascii=False) + "\n")
            if rec.context is not None:
                known_matched += 1
                if rec.title:  # some files with paragraphs have no titles
                    titled += 1
                    same_title += title_key(m.passage.title) == title_key(rec.title)
                same_para += same_paragraph(m.passage.text, rec.context)
    tmp.replace(out)
    report = DistantReport(
        questions=len(records),
        matched=matched,
        seconds=time.perf_counter() - t0,
        known_questions=known,
        known_matched=known_matched,
        same_title=same_title,
        titled_matched=titled,
        same_paragraph=same_para,
        k=k,
        files=tuple(str(p) for p in files),
        out=out,
        max_rank=max_rank,
        min_overlap=min_overlap,
    )
    report_path(out).write_text(json.dumps(report.as_json(), indent=2))
    return report
