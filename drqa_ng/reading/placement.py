"""Position-checked distant supervision: put paragraph-less SQuAD questions back on their paragraph.

Each line of ``squad_train_questions_answers_noctx`` carries ``token_span``: the answer's inclusive
token range in its original paragraph, tokenised Penn-Treebank style (NLTK's word tokenizer after
Punkt sentence splitting, ``\u0060\u0060``/``''`` written back as ``"``: the tokenisation of the cs224n
SQuAD files). A corpus paragraph tokenised the same way that holds the answer tokens at that position
(give or take ``tolerance`` tokens for edits between the dump and SQuAD's revision) is a *landing*.

Position alone is weak evidence: a short or common answer lands on other paragraphs by chance. SQuAD
asks ~5 questions of each paragraph, so the original paragraph of a question is one on which other,
different questions land too. ``choose`` places a question on the landing with the most such
*votes* (ties broken by how many question words the paragraph holds), and only where that choice is
clear: see its docstring for the rule. Questions listed as held out are placed but never vote, so a
precision measured on them does not lean on knowing their paragraphs.

The scan (``placement_run``) is one pass over the doc store's paragraphs in worker processes:
tokenise, then look each position up in a ``SpanTable`` keyed by (start position, first answer token).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from drqa_ng.errors import DataFormatError
from drqa_ng.inputs import json_lines
from drqa_ng.store.split import paragraph_spans

log = logging.getLogger(__name__)

TOLERANCE = 2  # tokens an answer may move between the dump and SQuAD's revision
MIN_CHARS = 300  # SQuAD kept paragraphs of >= 500 characters; allow for edits
# Fit on the SQuAD train head questions (their paragraphs known; they vote like any other question):
# precision there rose from 82.3 % (voters of any overlap, 0.3 / 0.6) to 94.2 % at these settings.
MIN_OVERLAP = 0.5  # share of the question's content words the chosen paragraph must hold
LONE_OVERLAP = 0.7  # ... when no other question votes for it
VOTER_OVERLAP = 0.5  # a question backs a paragraph only when it shares this much with it too


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Abbreviations Punkt must not end a sentence at (its pretrained English model is a download; these
# are the frequent ones in Wikipedia text, lower-case and without the final period).
ABBREVIATIONS = _words(
    "u.s u.k u.n e.g i.e etc mr mrs ms dr st jr sr prof gen col lt sgt capt rev gov sen rep inc co "
    "corp ltd bros no vol pp ca c approx vs jan feb mar apr jun jul aug sep sept oct nov dec mt ft "
    "fig est dept univ assn ave blvd a.d b.c a.m p.m "
)
_STOP = _words(
    "a an the of in on at to for by with from and or is are was were be been what which who whom "
    "whose when where why how did do does that this these those it its as into than there their his "
    "her ? , . ' 's \" ( ) "
)


class PTBTokenizer:
    """Penn-Treebank tokens with character spans: Punkt sentences (``ABBREVIATIONS`` known), then
    NLTK's Treebank word tokenizer, quotes normalised to ``"`` (the cs224n SQuAD tokenisation).

    NLTK is a well-kept implementation of exactly the tokenisation the positions were counted in;
    writing our own would only approximate it.
    """

    def __init__(self) -> None:
        from nltk.tokenize import NLTKWordTokenizer
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

        params = PunktParameters()
        params.abbrev_types = set(ABBREVIATIONS)
        self._sentences = PunktSentenceTokenizer(params)
        self._words = NLTKWordTokenizer()

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text``."""
        return [t for t, _, _ in self.spans(text)]

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """``(token, start, end)`` for every token; ``text[start:end]`` is the token as written."""
        out: list[tuple[str, int, int]] = []
        for s0, s1 in self._sentences.span_tokenize(text):
            sentence = text[s0:s1]
            tokens = [_quote(t) for t in self._words.tokenize(sentence)]
            out.extend(
                (t, s0 + a, s0 + b) for t, (a, b) in zip(tokens, _align(tokens, sentence), strict=True)
            )
        return out


def paragraph_body(text: str) -> tuple[int, str]:
    """The longest blank-line block of a stored paragraph and its offset: the doc store merges a short
    heading ("History.") into the paragraph after it, which would shift every token position."""
    spans = paragraph_spans(text)
    if len(spans) <= 1:
        return 0, text
    a, b = max(spans, key=lambda s: s[1] - s[0])
    return a, text[a:b]


def _quote(token: str) -> str:
    return '"' if token in ("``", "''") else token


def _align(tokens: Sequence[str], text: str) -> list[tuple[int, int]]:
    """Character spans of ``tokens`` in ``text``, in order. A token the tokenizer rewrote (a quote) is
    matched by its written forms; one not found where expected takes an empty span at the cursor."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for tok in tokens:
        forms = ('"', "``", "''", "\u201c", "\u201d") if tok == '"' else (tok,)
        best = -1
        form = tok
        for f in forms:
            i = text.find(f, pos, pos + 40 + len(f))
            if i >= 0 and (best < 0 or i < best):
                best, form = i, f
        if best < 0:
            spans.append((pos, pos))
            continue
        spans.append((best, best + len(form)))
        pos = best + len(form)
    return spans


@dataclass(frozen=True, slots=True)
class SpanQuestion:
    """A question whose answer sits at token ``start`` of its (unknown) paragraph."""

    id: str
    question: str
    answer: tuple[str, ...]
    start: int
    votes: bool = True  # False: held out of the agreement (placed, but backs no other question)


@dataclass(frozen=True, slots=True)
class Landing:
    """Question ``question`` (an index) has its answer at token ``start + shift`` of ``unit_id``;
    ``overlap`` is the share of its content words found in the paragraph."""

    question: int
    unit_id: str
    shift: int
    overlap: float


@dataclass(frozen=True, slots=True)
class Placement:
    """The paragraph chosen for a question, and why: ``votes`` other questions land on it."""

    question: int
    unit_id: str
    shift: int
    votes: int
    overlap: float


def content_words(tokens: Iterable[str]) -> frozenset[str]:
    """Lower-cased tokens that are not stop words or punctuation."""
    return frozenset(t.lower() for t in tokens if t.lower() not in _STOP)


class SpanTable:
    """Questions keyed by (start position, first answer token), for a one-pass scan of paragraphs."""

    def __init__(self, questions: Sequence[SpanQuestion], tolerance: int = TOLERANCE) -> None:
        self.tolerance = tolerance
        self.table: dict[tuple[int, str], list[int]] = defaultdict(list)
        self.answers: list[tuple[str, ...]] = []
        self.words: list[frozenset[str]] = []
        for i, q in enumerate(questions):
            self.table[(q.start, q.answer[0])].append(i)
            self.answers.append(q.answer)
            self.words.append(content_words(q.question.split()))
        self.table = dict(self.table)
        self.first = frozenset(k[1] for k in self.table)
        self.max_start = max((q.start for q in questions), default=-1) + tolerance

    def land(self, unit_id: str, tokens: Sequence[str]) -> list[Landing]:
        """Every question whose answer tokens sit in ``tokens`` within ``tolerance`` of its start."""
        out: list[Landing] = []
        para_words: frozenset[str] | None = None
        tol = self.tolerance
        for p in range(min(len(tokens), self.max_start + 1)):
            tok = tokens[p]
            if tok not in self.first:
                continue
            for shift in range(-tol, tol + 1):
                qs = self.table.get((p - shift, tok))
                if not qs:
                    continue
                for qi in qs:
                    ans = self.answers[qi]
                    if tuple(tokens[p : p + len(ans)]) != ans:
                        continue
                    if para_words is None:
                        para_words = content_words(tokens)
                    words = self.words[qi]
                    overlap = len(words & para_words) / len(words) if words else 0.0
                    out.append(Landing(qi, unit_id, shift, overlap))
        return out


def choose(
    landings: Sequence[Landing],
    questions: Sequence[SpanQuestion],
    min_overlap: float = MIN_OVERLAP,
    lone_overlap: float = LONE_OVERLAP,
    voter_overlap: float = VOTER_OVERLAP,
) -> list[Placement]:
    """Place each question on at most one of its landings.

    votes(q, u) = number of distinct other question texts, not held out, that land on paragraph u and
    share ≥ ``voter_overlap`` of their content words with it (a long list-like paragraph collects
    chance landings of short answers by the dozen; those questions share few words with it).
    A question goes to the landing with the most votes, then the highest overlap, then the smallest
    |shift|, when
      - it has votes ≥ 1, overlap ≥ ``min_overlap``, and no other landing of the question has as many
        votes; or
      - no landing has votes, the question has exactly one landing, with shift 0 and overlap ≥
        ``lone_overlap``.
    Everything else stays unplaced (ambiguous or unsupported).
    """
    voters: dict[str, set[str]] = defaultdict(set)
    for lg in landings:
        q = questions[lg.question]
        if q.votes and lg.overlap >= voter_overlap:
            voters[lg.unit_id].add(q.question)
    by_question: dict[int, list[Landing]] = defaultdict(list)
    for lg in landings:
        by_question[lg.question].append(lg)
    out: list[Placement] = []
    for qi in sorted(by_question):
        text = questions[qi].question
        # one landing per paragraph: the smallest shift
        per_unit: dict[str, Landing] = {}
        for lg in by_question[qi]:
            cur = per_unit.get(lg.unit_id)
            if cur is None or abs(lg.shift) < abs(cur.shift):
                per_unit[lg.unit_id] = lg
        scored = sorted(
            ((len(voters[u] - {text}), lg) for u, lg in per_unit.items()),
            key=lambda x: (-x[0], -x[1].overlap, abs(x[1].shift), x[1].unit_id),
        )
        votes, best = scored[0]
        if votes >= 1:
            runner_up = scored[1][0] if len(scored) > 1 else -1
            if best.overlap >= min_overlap and runner_up < votes:
                out.append(Placement(qi, best.unit_id, best.shift, votes, best.overlap))
        elif len(scored) == 1 and best.shift == 0 and best.overlap >= lone_overlap:
            out.append(Placement(qi, best.unit_id, 0, 0, best.overlap))
    return out


# ---- reading questions ---------------------------------------------------------------------------


def read_span_questions(
    paths: Sequence[Path], held_out: Collection[str] = (), skip: Collection[str] = ()
) -> list[SpanQuestion]:
    """Questions with ``token_span`` from JSONL(.gz) files; a question text in ``skip`` is dropped, one in
    ``held_out`` is kept but does not vote. Texts are compared as written (tokenised)."""
    out: list[SpanQuestion] = []
    seen: set[str] = set()
    bad = 0
    for path in paths:
        for lineno, obj in json_lines(path):
            try:
                question = str(obj["question"]).strip()
                answer = tuple(str(obj["answer"]).split())
                s, e = (int(x) for x in str(obj["token_span"]).split())
            except (KeyError, ValueError, TypeError) as err:
                raise DataFormatError(
                    f"{path}:{lineno}: expected {{'question', 'answer', 'token_span': 'START END'}}: {err}"
                ) from err
            if not answer or e - s + 1 != len(answer) or s < 0:
                bad += 1  # a span that does not fit its answer (a few in the SQuAD cs224n files)
                continue
            if question in seen or question in skip:
                continue
            seen.add(question)
            qid = str(obj.get("id", f"{path.name}:{lineno}"))
            out.append(SpanQuestion(qid, question, answer, s, question not in held_out))
    if bad:
        log.warning("skipped %d questions whose token_span does not fit the answer", bad)
    return out


@dataclass(frozen=True, slots=True)
class KnownParagraph:
    """A question whose paragraph is known (a tokenised context, as in the cs224n files)."""

    question: SpanQuestion
    context: str


def read_known(paths: Sequence[Path]) -> list[KnownParagraph]:
    """Questions with tokenised ``context`` and ``answers[0].answer_start`` (unified layout, tokens
    separated by single spaces), turned into span questions: the answer's token position is counted in
    the context. These are what placement precision is measured on."""
    out: list[KnownParagraph] = []
    for path in paths:
        for lineno, obj in json_lines(path):
            try:
                ctx = str(obj["context"])
                ans = obj["answers"][0]
                text, start = str(ans["text"]), int(ans["answer_start"])
            except (KeyError, IndexError, ValueError, TypeError) as err:
                raise DataFormatError(
                    f"{path}:{lineno}: expected unified layout with context: {err}"
                ) from err
            if ctx[start : start + len(text)] != text or not text.strip():
                raise DataFormatError(f"{path}:{lineno}: answer not at answer_start")
            qid = str(obj.get("id", f"{path.name}:{lineno}"))
            q = SpanQuestion(
                qid, str(obj["question"]).strip(), tuple(text.split()), len(ctx[:start].split()), False
            )
            out.append(KnownParagraph(q, ctx))
    return out
