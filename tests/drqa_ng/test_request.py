"""The request contract: one set of limits and checks, the same on every door (Python, HTTP, video)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from drqa_ng.errors import InputError
from drqa_ng.pipeline import QAResult
from drqa_ng.request import (
    HARD_LIMITS,
    MAX_QUESTION_CHARS,
    Limits,
    Request,
    check_request,
)
from drqa_ng.retrieval.base import check_queries
from drqa_ng.video.qa import check_ask
from serving.app import create_app
from serving.settings import ServerSettings
from tests.serving.fakes import fake_pipeline

TOO_LONG = "x" * (MAX_QUESTION_CHARS + 1)


def test_check_request_strips_and_keeps_k_and_top_n() -> None:
    assert check_request(["  Who?  "], k=3, top_n=2) == Request(("Who?",), 3, 2)
    assert check_request(["Who?"]).k is None  # the pipeline's own default


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"questions": [""]}, "empty"),
        ({"questions": "Who?"}, "list"),
        ({"questions": [TOO_LONG]}, "too long"),
        ({"questions": ["q"], "k": 0}, "k=0"),
        ({"questions": ["q"], "k": HARD_LIMITS.k + 1}, "k="),
        ({"questions": ["q"], "top_n": 0}, "top_n=0"),
        ({"questions": ["q"], "k": True}, "integer"),
    ],
)
def test_bad_requests_are_input_errors(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        check_request(**kwargs)  # type: ignore[arg-type]


def test_a_server_may_lower_the_limits_never_raise_them() -> None:
    low = Limits(questions=2, question_chars=10, k=3, top_n=4)
    with pytest.raises(InputError, match="too many"):
        check_request(["a", "b", "c"], limits=low)
    with pytest.raises(InputError, match="too long"):
        check_request(["x" * 11], limits=low)
    high = Limits(questions=10**9, question_chars=10**9, k=10**9, top_n=10**9)
    assert high.within(HARD_LIMITS) == HARD_LIMITS
    with pytest.raises(InputError, match="too long"):
        check_request([TOO_LONG], limits=high)


def test_one_question_length_limit_on_every_door() -> None:
    """Before: 1,000 characters in the pipeline and video, 10,000 in the schemas and the retrievers."""
    pipe = fake_pipeline()
    doors = [
        lambda: pipe.ask([TOO_LONG]),
        lambda: pipe.search([TOO_LONG]),
        lambda: check_ask([TOO_LONG], 3, 2),
        lambda: check_queries([TOO_LONG], 3),
    ]
    for door in doors:
        with pytest.raises(InputError):
            door()
    settings = ServerSettings(max_question_chars=10**6)  # a setting cannot raise the hard limit
    with TestClient(create_app(settings, pipeline=pipe)) as c:
        for path, key in (("/v1/ask", "question"), ("/v1/search", "query")):
            assert c.post(path, json={key: TOO_LONG}).status_code == 422
            assert c.post(path, json={key: TOO_LONG[:-1]}).status_code == 200
        spec = c.get("/openapi.json").json()["components"]["schemas"]
        assert spec["AskRequest"]["properties"]["question"]["maxLength"] == MAX_QUESTION_CHARS


def test_ask_route_returns_the_pipelines_result_as_built() -> None:
    """The route passes on the ``QAResult`` the pipeline built (its ``abstained`` too), not a recomputation."""
    pipe = fake_pipeline()

    class Abstaining:
        def __getattr__(self, name: str) -> object:
            return getattr(pipe, name)

        def answer(self, request: Request) -> list[QAResult]:
            return [replace(r, abstained=True) for r in pipe.answer(request)]

        def abstains(self, answers: object) -> bool:
            raise AssertionError("the route recomputed abstained")

    with TestClient(create_app(ServerSettings(), pipeline=Abstaining())) as c:  # type: ignore[arg-type]
        r = c.post("/v1/ask", json={"question": "What is the capital of Germany?"})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["abstained"] is True


def test_search_only_pipeline_refuses_to_read() -> None:
    from drqa_ng.errors import UnsupportedError
    from drqa_ng.pipeline import NoReader, NoStore, QAPipeline
    from tests.serving.fakes import FakeRetriever, FakeStore

    pipe = QAPipeline(FakeRetriever(FakeStore()), NoStore(), NoReader())
    (hits,) = pipe.find(check_request(["capital of Germany"], k=2), keep_missing=True)
    assert [h.hit.id for h in hits] == ["2#p0", "1#p0"] and all(h.passage is None for h in hits)
    assert pipe.search(["capital of Germany"]) == [[]]  # no text: nothing to show
    with pytest.raises(UnsupportedError):
        pipe.ask(["capital of Germany"])


def test_a_search_is_not_held_to_the_answer_limit() -> None:
    """A server allowing at most 4 answers still searches (a search keeps no answers)."""
    low = Limits(top_n=4)
    with pytest.raises(InputError, match="top_n"):
        check_request(["q"], limits=low)  # an ask with the default 5 answers
    assert check_request(["q"], top_n=None, limits=low).questions == ("q",)
    with TestClient(create_app(ServerSettings(max_top_n=4), pipeline=fake_pipeline())) as c:
        assert c.post("/v1/search", json={"query": "capital of Germany"}).status_code == 200
        assert c.post("/v1/ask", json={"question": "capital of Germany", "top_n": 4}).status_code == 200
