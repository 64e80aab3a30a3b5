"""``POST /v1/ask``: answers with evidence for one or many questions, micro-batched into the reader."""

from __future__ import annotations

import time

from fastapi import APIRouter

from drqa_ng.request import check_request
from serving.deps import State
from serving.schemas import AskRequest, AskResponse, ErrorOut, QuestionAnswers

router = APIRouter(tags=["qa"])


@router.post("/ask", response_model=AskResponse, responses={422: {"model": ErrorOut}})
async def ask(body: AskRequest, state: State) -> AskResponse:
    t0 = time.perf_counter()
    req = check_request(body.as_list(), k=body.k, top_n=body.top_n, limits=state.settings.limits)
    results = await state.batcher.submit(
        req.questions, req.top_n, timeout=state.settings.request_timeout_s, k=req.k
    )
    return AskResponse(
        results=[
            QuestionAnswers.of(r.question, r.answers, r.abstained, r.evidence[: body.passages])
            for r in results
        ],
        latency_ms=(time.perf_counter() - t0) * 1000,
        min_confidence=state.pipeline.min_confidence,
    )
