"""``POST /v1/search``: retrieved units with their text (no reader), from ``QAPipeline.search``."""

from __future__ import annotations

import time

from fastapi import APIRouter

from drqa_ng.request import check_request
from serving.deps import State
from serving.schemas import ErrorOut, QueryHits, SearchRequest, SearchResponse

router = APIRouter(tags=["search"])


@router.post("/search", response_model=SearchResponse, responses={422: {"model": ErrorOut}})
async def search(body: SearchRequest, state: State) -> SearchResponse:
    t0 = time.perf_counter()
    req = check_request(body.as_list(), k=body.k, top_n=None, limits=state.settings.limits)
    hits = await state.search_gate.run(state.pipeline.find, req, units=len(req.questions))
    return SearchResponse(
        results=[QueryHits.of(q, hs) for q, hs in zip(req.questions, hits, strict=True)],
        latency_ms=(time.perf_counter() - t0) * 1000,
    )
