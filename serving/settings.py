"""Server settings: one frozen value passed to ``create_app``; nothing read from the environment here."""

from __future__ import annotations

from dataclasses import dataclass, field

from drqa_ng.pipeline import PipelineSettings
from drqa_ng.request import Limits


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What to load and the request limits.

    ``pipeline`` names the indexes, doc store and reader loaded once at startup (``None`` only when a
    ready pipeline is handed to ``create_app``). ``api_key``: when set, every ``/v1`` request must
    send it in ``X-API-Key``. Concurrent ``/v1/ask`` requests are gathered for up to
    ``batch_wait_ms`` or ``max_batch`` questions and read together. ``routers`` adds optional router
    modules (each exposes ``router``); ``extra`` holds their settings as key/value strings.

    Overload and abuse limits: a body over ``max_body_bytes`` is refused with 413 before it is read,
    and one not received within ``body_timeout_s`` with 408 (slow clients hold no connection for
    long). An ask or search request whose expected wait (work ahead / measured service rate, see
    ``serving.admission``) is past ``deadline_s`` is refused at once with 503 and a Retry-After of
    at least ``retry_after_s``; at most ``max_queue`` ask (and search) requests wait or run at once
    in any case; a request still unanswered after ``request_timeout_s`` gets 503. 0 turns a limit off.
    """

    pipeline: PipelineSettings | None = None
    api_key: str | None = None
    max_questions: int = 32
    max_question_chars: int = 1000
    max_top_n: int = 20
    max_k: int = 100
    batch_wait_ms: float = 5.0
    max_batch: int = 32
    max_body_bytes: int = 1 << 20
    max_queue: int = 64
    deadline_s: float = 2.0
    request_timeout_s: float = 30.0
    body_timeout_s: float = 10.0
    retry_after_s: int = 1
    routers: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = field(default=())

    def get(self, key: str, default: str | None = None) -> str | None:
        """Look up an ``extra`` setting (used by optional routers)."""
        return dict(self.extra).get(key, default)

    @property
    def limits(self) -> Limits:
        """This server's request limits (``drqa_ng.request.check_request`` keeps them under the hard ones)."""
        return Limits(self.max_questions, self.max_question_chars, self.max_k, self.max_top_n)
