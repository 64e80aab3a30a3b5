"""``GET /v1/docs/{id}``: a document, or one unit of it when the id has a ``#`` suffix (send it as %23)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from drqa_ng.errors import NotFoundError
from drqa_ng.types import UNIT_SEP
from serving.deps import State
from serving.schemas import DocOut, ErrorOut

router = APIRouter(tags=["docs"])


@router.get("/docs/{doc_id:path}", response_model=DocOut, responses={404: {"model": ErrorOut}})
async def get_doc(doc_id: str, state: State) -> DocOut:
    store = state.pipeline.store
    if UNIT_SEP in doc_id:
        (p,) = await asyncio.to_thread(store.get_passages, [doc_id])
        if p is None:
            raise NotFoundError(f"no passage with id {doc_id!r}")
        return DocOut(id=p.id, title=p.title, text=p.text)
    (d,) = await asyncio.to_thread(store.get_documents, [doc_id])
    if d is None:
        raise NotFoundError(f"no document with id {doc_id!r}")
    return DocOut(id=d.id, title=d.title, text=d.text)
