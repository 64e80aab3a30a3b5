"""``POST /v1/ask``: answers with evidence for one or many questions, micro-batched into the reader."""

from __future__ import annotations

import time

from fastapi import APIRouter

from drqa_ng.errors import InputError
from drqa_ng.pipeline import check_questions
from serving.deps import State
from serving.schemas import AskRequest, AskResponse, ErrorOut, QuestionAnswers

router = APIRouter(tags=["qa"])


@router.post("/ask", response_model=AskResponse, responses={422: {"model": ErrorOut}})
async def ask(body: AskRequest, state: State) -> AskResponse:
    t0 = time.perf_counter()
    s = state.settings
    questions = body.as_list()
    if len(questions) > s.max_questions:
        raise InputError(f"too many questions: {len(questions)} > max_questions={s.max_questions}")
    if body.top_n > s.max_top_n:
        raise InputError(f"top_n={body.top_n} is above the limit {s.max_top_n}")
    if body.k is not None and body.k > s.max_k:
        raise InputError(f"k={body.k} is above the limit {s.max_k}")
    questions = check_questions(questions, min(s.max_question_chars, state.pipeline.max_question_chars))
    answers = await state.batcher.submit(questions, body.top_n, timeout=s.request_timeout_s, k=body.k)
    pipe = state.pipeline
    return AskResponse(
        results=[
            QuestionAnswers.of(q, ans, pipe.abstains(ans)) for q, ans in zip(questions, answers, strict=True)
        ],
        latency_ms=(time.perf_counter() - t0) * 1000,
        min_confidence=pipe.min_confidence,
    )
