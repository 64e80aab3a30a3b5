"""A stand-in optional router, as serving/routers/video.py is: ``router`` + ``setup(app, state)``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request

from serving.deps import AppState

router = APIRouter()


def setup(app: FastAPI, state: AppState) -> None:
    app.state.greeting = state.settings.get("greeting")


@router.get("/hello")
async def hello(request: Request) -> dict[str, str]:
    return {"greeting": request.app.state.greeting}
