"""Hostile HTTP input: no 5xx, no echo of the input, a body-size limit before parsing and auth, one
error schema in the replies and in OpenAPI, backpressure with 503 + Retry-After."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drqa_ng.pipeline import QAResult
from drqa_ng.request import Request
from serving.app import create_app
from serving.settings import ServerSettings
from tests.serving.fakes import fake_pipeline

JSON = {"content-type": "application/json"}
ERROR_KEYS = {"detail", "error"}


def _app(pipe: object = None, **kw: object) -> TestClient:
    return TestClient(
        create_app(ServerSettings(**kw), pipeline=pipe or fake_pipeline()),  # type: ignore[arg-type]
        raise_server_exceptions=False,
    )


@pytest.fixture
def client() -> Iterator[TestClient]:
    with _app() as c:
        yield c


@pytest.fixture
def video_client(video_index_dir: Path) -> Iterator[TestClient]:
    with _app(extra=(("video_index", str(video_index_dir)), ("video_recognize", "0"))) as c:
        yield c


def _is_error_out(r: object, status: int) -> dict[str, str]:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == ERROR_KEYS and all(isinstance(v, str) for v in body.values())
    assert "Traceback" not in body["detail"] and len(body["detail"]) <= 300
    return body


NON_FINITE = [b"NaN", b"Infinity", b"-Infinity", b"1e400"]
SURROGATES = [b'"\\ud800"', b'"a\\udfff b"']


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize(
    ("path", "text_field", "int_field"), [("/v1/ask", "question", "top_n"), ("/v1/search", "query", "k")]
)
def test_non_finite_numbers_are_422_not_500(
    client: TestClient, path: str, text_field: str, int_field: str, number: bytes
) -> None:
    """Before: FastAPI's handler echoed NaN, could not serialise it and answered 500 with a traceback."""
    body = b'{"%s": "capital", "%s": %s}' % (text_field.encode(), int_field.encode(), number)
    err = _is_error_out(client.post(path, content=body, headers=JSON), 422)
    assert int_field in err["detail"] and err["error"] == "ValidationError"


@pytest.mark.parametrize("text", SURROGATES)
@pytest.mark.parametrize(
    ("path", "field"), [("/v1/ask", "question"), ("/v1/search", "query"), ("/v1/ask", "questions")]
)
def test_lone_surrogates_are_422_not_500(client: TestClient, path: str, field: str, text: bytes) -> None:
    value = b"[%s]" % text if field == "questions" else text
    r = client.post(path, content=b'{"%s": %s}' % (field.encode(), value), headers=JSON)
    assert _is_error_out(r, 422)["error"] == "ValidationError"


def test_lone_surrogate_in_a_key_is_422_and_the_reply_is_valid_utf8(client: TestClient) -> None:
    r = client.post("/v1/ask", content=b'{"question": "a", "\\ud800": 1}', headers=JSON)
    _is_error_out(r, 422)
    r.content.decode("utf-8")


@pytest.mark.parametrize(
    "body", [b'{"question": "a", "k": NaN}', b'{"question": "\\ud800"}', b'{"questions": ["\\udc80"]}']
)
def test_video_ask_hostile_input_is_422(video_client: TestClient, body: bytes) -> None:
    _is_error_out(video_client.post("/v1/video/ask", content=body, headers=JSON), 422)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"question": null, "questions": ["a"]}', b"{" * 5000, b'"\\ud800"', b""],
    ids=["text", "array", "null", "deep", "surrogate", "empty"],
)
def test_malformed_bodies_are_422_in_the_error_schema(client: TestClient, body: bytes) -> None:
    _is_error_out(client.post("/v1/ask", content=body, headers=JSON), 422)


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    """Before: the 422 reply contained the whole input (209 MB back for a 200 MB body)."""
    secret = "SECRET" * 100_000  # 600 kB, under the body limit
    r = client.post("/v1/ask", json={"question": "a", "bogus": secret})
    _is_error_out(r, 422)
    assert "SECRET" not in r.text and len(r.content) < 1000
    r = client.post("/v1/ask", json={"question": secret})
    assert r.status_code == 422 and "SECRET" not in r.text


def test_body_over_the_limit_is_413_before_parsing() -> None:
    """Before: any size was read and parsed (a 200 MB body took the server to 1.33 GB RSS)."""
    with _app(max_body_bytes=1000) as c:
        _is_error_out(c.post("/v1/ask", content=b"x" * 1001, headers=JSON), 413)  # not JSON: never parsed
        ok = c.post("/v1/ask", json={"question": "What is the capital of Italy?", "top_n": 1})
        assert ok.status_code == 200
    with _app() as c:  # default limit 1 MiB
        _is_error_out(c.post("/v1/search", content=b" " * ((1 << 20) + 1), headers=JSON), 413)


def test_chunked_body_over_the_limit_is_413() -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 100

    with _app(max_body_bytes=5000) as c:
        _is_error_out(c.post("/v1/ask", content=chunks(), headers=JSON), 413)


def test_big_body_is_413_even_without_the_api_key() -> None:
    """The size check comes before auth, and auth before the body is read."""
    with _app(api_key="k") as c:
        _is_error_out(c.post("/v1/ask", content=b"x" * (2 << 20), headers=JSON), 413)
        err = _is_error_out(c.post("/v1/ask", content=b"not json", headers=JSON), 401)
        assert err["error"] == "Unauthorized"  # not a 422: the body was not parsed before the key check


def test_unexpected_exception_is_a_500_in_the_error_schema_without_traceback() -> None:
    pipe = fake_pipeline()

    def boom(*a: object, **k: object) -> object:
        raise RuntimeError("secret internal state")

    pipe.retriever.search = boom  # type: ignore[method-assign]
    with _app(pipe) as c:
        err = _is_error_out(c.post("/v1/search", json={"query": "x"}), 500)
        assert "secret" not in err["detail"] and err["error"] == "InternalError"


def test_unknown_route_and_method_use_the_error_schema(client: TestClient) -> None:
    _is_error_out(client.get("/v1/nope"), 404)
    _is_error_out(client.get("/v1/ask"), 405)


def _spec(c: TestClient) -> dict:  # type: ignore[type-arg]
    return c.get("/openapi.json").json()  # type: ignore[no-any-return]


def test_openapi_declares_auth_only_when_a_key_is_set(client: TestClient) -> None:
    spec = _spec(client)
    assert "securitySchemes" not in spec.get("components", {})
    for path in spec["paths"].values():
        for op in path.values():
            assert "security" not in op and "401" not in op["responses"]
    with _app(api_key="k") as c:
        spec = _spec(c)
        assert "APIKeyHeader" in spec["components"]["securitySchemes"]
        ask = spec["paths"]["/v1/ask"]["post"]
        assert ask["security"] == [{"APIKeyHeader": []}] and "401" in ask["responses"]


def test_openapi_every_4xx_uses_the_one_error_schema(client: TestClient) -> None:
    spec = _spec(client)
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's default 422 shape is gone
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for code, resp in op["responses"].items():
                if code.startswith(("4", "5")):
                    ref = resp["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorOut"), (path, method, code)
            if path.startswith("/v1/") and method == "post":
                assert {"400", "413", "422", "503"} <= set(op["responses"])


def test_openapi_states_the_one_of_rule(client: TestClient) -> None:
    schemas = _spec(client)["components"]["schemas"]
    assert schemas["AskRequest"]["oneOf"] == [{"required": ["question"]}, {"required": ["questions"]}]
    assert schemas["SearchRequest"]["oneOf"] == [{"required": ["query"]}, {"required": ["queries"]}]
    assert schemas["AskRequest"]["properties"]["question"]["type"] == "string"  # null is not accepted


class _SlowPipeline:
    """Wraps a fake pipeline; ``answer`` (the server's one QA path) blocks until ``release`` is set."""

    def __init__(self) -> None:
        self.inner = fake_pipeline()
        self.release = threading.Event()
        self.started = threading.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def answer(self, request: Request) -> list[QAResult]:
        self.started.set()
        self.release.wait(10)
        return self.inner.answer(request)  # type: ignore[no-any-return]


def test_full_ask_queue_is_503_with_retry_after() -> None:
    """Before: with 200 clients the queue grew without bound (p99 81 s), no 503."""
    pipe = _SlowPipeline()
    with _app(pipe, max_queue=1, retry_after_s=3, max_batch=1) as c, ThreadPoolExecutor(1) as ex:
        first = ex.submit(c.post, "/v1/ask", json={"question": "What is the capital of Italy?"})
        assert pipe.started.wait(10)
        r = c.post("/v1/ask", json={"question": "What is the capital of Germany?"})
        err = _is_error_out(r, 503)
        assert r.headers["retry-after"] == "3" and err["error"] == "OverloadedError"
        pipe.release.set()
        assert first.result(10).status_code == 200


def test_ask_past_the_deadline_is_503() -> None:
    pipe = _SlowPipeline()
    with _app(pipe, request_timeout_s=0.05) as c:
        r = c.post("/v1/ask", json={"question": "What is the capital of Italy?"})
        pipe.release.set()
        # Released only after the reply: had the server waited for the reader, this would be a 200.
        assert "deadline" in _is_error_out(r, 503)["detail"] and "retry-after" in r.headers


def test_full_search_gate_is_503() -> None:
    pipe = fake_pipeline()
    release, started = threading.Event(), threading.Event()
    search = pipe.retriever.search

    def slow(queries: Sequence[str], k: int) -> object:
        started.set()
        release.wait(10)
        return search(queries, k)

    pipe.retriever.search = slow  # type: ignore[method-assign]
    with _app(pipe, max_queue=1) as c, ThreadPoolExecutor(1) as ex:
        first = ex.submit(c.post, "/v1/search", json={"query": "capital"})
        assert started.wait(10)
        _is_error_out(c.post("/v1/search", json={"query": "capital"}), 503)
        release.set()
        assert first.result(10).status_code == 200


def test_ask_expected_to_finish_past_the_deadline_is_503_at_once() -> None:
    """Before: admitted while fewer than max_queue (64) waited, so under 200 clients an answer took
    p50 10.8 s and a 503 came only when the request's 30 s timeout ran out."""
    pipe = _SlowPipeline()
    with _app(pipe, deadline_s=2.0, max_queue=64, max_batch=1) as c, ThreadPoolExecutor(1) as ex:
        gate = c.app.state.drqa.batcher.gate  # type: ignore[attr-defined]
        gate.rate.add(1, 10.0)  # measured so far: one question per 10 s
        first = ex.submit(c.post, "/v1/ask", json={"question": "What is the capital of Italy?"})
        assert pipe.started.wait(10)
        r = c.post("/v1/ask", json={"question": "What is the capital of Germany?"})
        err = _is_error_out(r, 503)  # at once: had it been queued, it would wait for the release
        assert "expected wait 20.0 s" in err["detail"] and int(r.headers["retry-after"]) >= 18
        # refused before routing and parsing (serving.guard): even a malformed body is not parsed
        assert c.post("/v1/ask", content=b"{not json", headers=JSON).status_code == 503
        pipe.release.set()
        assert first.result(10).status_code == 200 and gate.shed == 2 and gate.load == 0


def test_search_expected_to_finish_past_the_deadline_is_503_at_once() -> None:
    pipe = fake_pipeline()
    release, started = threading.Event(), threading.Event()
    search = pipe.retriever.search

    def slow(queries: Sequence[str], k: int) -> object:
        started.set()
        release.wait(10)
        return search(queries, k)

    pipe.retriever.search = slow  # type: ignore[method-assign]
    with _app(pipe, deadline_s=2.0, max_queue=64) as c, ThreadPoolExecutor(1) as ex:
        gate = c.app.state.drqa.search_gate.gate  # type: ignore[attr-defined]
        gate.rate.add(1, 10.0)
        first = ex.submit(c.post, "/v1/search", json={"query": "capital"})
        assert started.wait(10)
        r = c.post("/v1/search", json={"queries": ["capital", "Paris"]})
        release.set()
        # refused by the guard, which asks the gate about the smallest request: (1 + 1) / 0.1 q/s
        assert "expected wait 20.0 s" in _is_error_out(r, 503)["detail"]
        assert first.result(10).status_code == 200


def test_duplicate_api_key_headers_are_401() -> None:
    """Before: the guard read the last header and the dependency the first: a 422 parse error."""
    with _app(api_key="s3cret") as c:
        for keys in (["s3cret", "s3cret"], ["wrong", "s3cret"], ["s3cret", "wrong"]):
            r = c.post("/v1/search", json={"query": "capital"}, headers=[("X-API-Key", k) for k in keys])
            assert "exactly one" in _is_error_out(r, 401)["detail"]
        assert (
            c.post("/v1/search", json={"query": "capital"}, headers={"X-API-Key": "s3cret"}).status_code
            == 200
        )


def test_openapi_states_this_servers_limits() -> None:
    """Before: the document allowed top_n up to 1000 and 1024 questions while the server refused > 20 / 32."""
    with _app(max_questions=3, max_top_n=4, max_k=5, max_question_chars=50) as c:
        props = _spec(c)["components"]["schemas"]
        ask, search = props["AskRequest"]["properties"], props["SearchRequest"]["properties"]
        assert ask["top_n"]["maximum"] == 4 and search["k"]["maximum"] == 5
        assert ask["questions"]["maxItems"] == 3 and search["queries"]["maxItems"] == 3
        assert ask["question"]["maxLength"] == 50 and ask["questions"]["items"]["maxLength"] == 50
        ok = {"questions": ["What is the capital of Italy?"] * 3, "top_n": 4}
        assert c.post("/v1/ask", json=ok).status_code == 200
        assert c.post("/v1/ask", json={**ok, "top_n": 5}).status_code == 422


@pytest.mark.parametrize(
    "doc_id",
    [
        "france%23p%C2%B2",  # "²" passed str.isdigit(): ValueError in int()
        "france%23p99999999999999999999",  # OverflowError in SQLite
        "france%23p" + "1" * 4301,  # past Python's int digit limit
    ],
    ids=["superscript", "past-int64", "4301-digits"],
)
def test_docs_ids_that_cannot_name_a_unit_are_404_not_500(tiny_docstore: Path, doc_id: str) -> None:
    """Before: a 500 with a traceback in the server log for each of these ids."""
    from drqa_ng.pipeline import QAPipeline
    from drqa_ng.store.docstore import DocStore
    from tests.serving.fakes import FakeReader, FakeRetriever, FakeStore

    store = DocStore.open(tiny_docstore)
    pipe = QAPipeline(FakeRetriever(FakeStore()), store, FakeReader())  # type: ignore[arg-type]
    with _app(pipe) as c:
        assert c.get("/v1/docs/france%23p0").status_code == 200
        body = _is_error_out(c.get(f"/v1/docs/{doc_id}"), 404)
    assert body["error"] == "NotFoundError"
