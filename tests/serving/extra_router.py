"""A stand-in optional router, as serving/routers/video.py is: ``router`` + ``setup(app, settings)``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request

from serving.settings import ServerSettings

router = APIRouter()


def setup(app: FastAPI, settings: ServerSettings) -> None:
    app.state.greeting = settings.get("greeting")


@router.get("/hello")
async def hello(request: Request) -> dict[str, str]:
    return {"greeting": request.app.state.greeting}
