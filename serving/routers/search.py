"""``POST /v1/search``: retriever hits with their passage text (no reader)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from fastapi import APIRouter

from drqa_ng.errors import InputError
from drqa_ng.pipeline import QAPipeline, check_questions
from serving.deps import State
from serving.schemas import ErrorOut, HitOut, QueryHits, SearchRequest, SearchResponse

router = APIRouter(tags=["search"])


def _search(pipe: QAPipeline, queries: Sequence[str], k: int) -> list[QueryHits]:
    hits = pipe.retriever.search(queries, k)
    doc_unit = pipe.retriever.unit == "doc"
    out = []
    for q, hs in zip(queries, hits, strict=True):
        if doc_unit:
            docs = pipe.store.get_documents([h.doc_id for h in hs])
            items = [
                HitOut(id=h.id, doc_id=h.doc_id, score=h.score, title=d.title, text=d.text)
                for h, d in zip(hs, docs, strict=True)
                if d is not None
            ]
        else:
            ps = pipe.store.get_passages([h.id for h in hs])
            items = [HitOut.of(h.score, p) for h, p in zip(hs, ps, strict=True) if p is not None]
        out.append(QueryHits(query=q, hits=items))
    return out


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
    results = await state.search_gate.run(_search, state.pipeline, queries, body.k)
    return SearchResponse(results=results, latency_ms=(time.perf_counter() - t0) * 1000)
