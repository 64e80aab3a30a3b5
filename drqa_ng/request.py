"""The request contract: what a question-answering or search request may ask, its defaults, one check.

A request is a batch of questions (or search queries), ``k`` retrieved units read per question and
``top_n`` answers kept per question. Every entrance checks it once with ``check_request``: the CLI
handlers (``ask``, ``search``, ``video-ask``) before anything heavy is loaded, the HTTP routers with
the server's own (lower) limits, and ``QAPipeline``'s public methods for Python callers. What
passes is a ``Request``; the pipeline's one path (``QAPipeline.answer`` / ``QAPipeline.find``) trusts
it and checks nothing again.

The hard limits here are the most any surface allows; a server may only lower them (``Limits.within``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drqa_ng.errors import InputError

# One vocabulary on every surface (CLI, HTTP, Python): ``k`` retrieved units (passages, hits, video
# segments) per question, ``top_n`` answers per question; the same defaults everywhere. k = 10: the
# best calibrated EM within a 300 ms p50 on 2 cores in the read-more sweep on 400 part-A
# train-article questions (k = 5: EM 39.5, 58 ms; k = 10: 41.5, 127 ms; k = 20: 44.2, 363 ms).
DEFAULT_K = 10
DEFAULT_TOP_N = 5
DEFAULT_VIDEO_K = 3
"""Video segments per question: each retrieved segment is one answer (with frames decoded and
recognised), so video reads fewer units than text QA by default."""

MAX_QUESTION_CHARS = 1000
MAX_QUESTIONS = 4096
MAX_K = 1000
MAX_TOP_N = 1000  # answers per question; more only allocates (ask -n 1000000000 asked for 37 GiB)


@dataclass(frozen=True, slots=True)
class Limits:
    """Upper bounds of one request: questions per batch, characters per question, ``k`` and ``top_n``."""

    questions: int = MAX_QUESTIONS
    question_chars: int = MAX_QUESTION_CHARS
    k: int = MAX_K
    top_n: int = MAX_TOP_N

    def within(self, other: Limits) -> Limits:
        """The tighter of the two limits, field by field (a server's settings never raise a hard limit)."""
        return Limits(
            min(self.questions, other.questions),
            min(self.question_chars, other.question_chars),
            min(self.k, other.k),
            min(self.top_n, other.top_n),
        )


HARD_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Request:
    """A checked request: stripped questions, ``k`` units per question (``None``: the pipeline's
    default) and ``top_n`` answers per question. Made by ``check_request``."""

    questions: tuple[str, ...]
    k: int | None = None
    top_n: int = DEFAULT_TOP_N


def check_questions(
    questions: Sequence[str], max_chars: int = MAX_QUESTION_CHARS, max_questions: int = MAX_QUESTIONS
) -> list[str]:
    """Strip and validate; raises InputError naming the offending question."""
    if isinstance(questions, str):
        raise InputError("questions must be a list of strings, not one string")
    if len(questions) > max_questions:
        raise InputError(f"too many questions in one batch: {len(questions)} > {max_questions}")
    out = []
    for i, q in enumerate(questions):
        q = q.strip() if isinstance(q, str) else ""
        if not q:
            raise InputError(f"question {i} is empty" if len(questions) > 1 else "the question is empty")
        try:
            q.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate: from JSON ("\\ud800") or a command-line argument that was not UTF-8.
            raise InputError(f"question {i} is not valid UTF-8 text") from None
        if len(q) > max_chars:
            raise InputError(f"question {i} is too long: {len(q)} characters > {max_chars}")
        out.append(q)
    return out


def check_count(value: int, limit: int, name: str) -> int:
    """``value`` unless it is not an integer in ``1..limit`` (InputError naming ``name``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if not 1 <= value <= limit:
        raise InputError(f"{name}={value} is outside 1..{limit}")
    return value


def check_request(
    questions: Sequence[str],
    *,
    k: int | None = None,
    top_n: int | None = DEFAULT_TOP_N,
    limits: Limits = HARD_LIMITS,
) -> Request:
    """The one check of a request against ``limits`` (never above ``HARD_LIMITS``); InputError otherwise.

    ``top_n=None``: a search, which keeps no answers (``top_n`` is then neither checked nor used).
    """
    lim = limits.within(HARD_LIMITS)
    qs = check_questions(questions, lim.question_chars, lim.questions)
    return Request(
        tuple(qs),
        None if k is None else check_count(k, lim.k, "k"),
        DEFAULT_TOP_N if top_n is None else check_count(top_n, lim.top_n, "top_n"),
    )
