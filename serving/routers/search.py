"""``POST /v1/search``: retrieved units with their text (no reader), from ``QAPipeline.search``."""

from __future__ import annotations

import time

from fastapi import APIRouter

from drqa_ng.errors import InputError
from drqa_ng.pipeline import check_questions
from serving.deps import State
from serving.schemas import ErrorOut, QueryHits, SearchRequest, SearchResponse

router = APIRouter(tags=["search"])


@router.post("/search", response_model=SearchResponse, responses={422: {"model": ErrorOut}})
async def search(body: SearchRequest, state: State) -> SearchResponse:
    t0 = time.perf_counter()
    s = state.settings
    queries = body.as_list()
    if len(queries) > s.max_questions:
        raise InputError(f"too many queries: {len(queries)} > max_questions={s.max_questions}")
    if body.k > s.max_k:
        raise InputError(f"k={body.k} is above the limit {s.max_k}")
    queries = check_questions(queries, s.max_question_chars)
    hits = await state.search_gate.run(state.pipeline.search, queries, body.k, units=len(queries))
    return SearchResponse(
        results=[QueryHits.of(q, hs) for q, hs in zip(queries, hits, strict=True)],
        latency_ms=(time.perf_counter() - t0) * 1000,
    )
