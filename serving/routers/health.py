"""``GET /healthz``: liveness plus batching counters (no auth, so load balancers can probe it)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from drqa_ng import __version__
from serving.deps import State
from serving.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz(state: State, request: Request) -> Health:
    return Health(
        status="ok",
        version=__version__,
        unit=str(state.pipeline.retriever.unit),
        batches=state.batcher.batches,
        batched_questions=state.batcher.questions,
        video=getattr(request.app.state, "video", None) is not None,
    )
