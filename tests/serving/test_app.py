from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from drqa_ng.errors import IndexFormatError, InputError
from drqa_ng.types import Answer
from serving.app import create_app
from serving.settings import ServerSettings
from tests.serving.fakes import fake_pipeline


def _client(**kw: object) -> Iterator[TestClient]:
    settings = ServerSettings(**kw)  # type: ignore[arg-type]
    with TestClient(create_app(settings, pipeline=fake_pipeline(k=3))) as c:
        yield c


@pytest.fixture
def client() -> Iterator[TestClient]:
    yield from _client(max_questions=4, max_top_n=5, max_k=7, max_question_chars=200)


@pytest.fixture
def auth_client() -> Iterator[TestClient]:
    yield from _client(api_key="s3cret")


def test_ask_one_question(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": "What is the capital of Germany?", "top_n": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    (res,) = body["results"]
    a = res["answers"][0]
    assert a["text"] == "Berlin" and a["doc_id"] == "2" and a["title"] == "Berlin"
    assert a["passage_text"][a["start"] : a["end"]] == "Berlin"
    assert len(res["answers"]) <= 2 and body["latency_ms"] >= 0


def test_ask_carries_confidence_support_and_abstention(client: TestClient) -> None:
    from drqa_ng.presentation import result_dict

    q = "What is the capital of Germany?"
    body = client.post("/v1/ask", json={"question": q, "top_n": 3}).json()
    (res,) = body["results"]
    assert res["abstained"] is False and body["min_confidence"] == 0.0
    a = res["answers"][0]
    assert 0.0 <= a["confidence"] <= 1.0 and a["support"]["count"] >= 1 and a["retriever_rank"] >= 1
    pipe = fake_pipeline(k=3)
    assert res == result_dict(q, pipe.ask([q], 3)[0], False)  # the CLI's JSON, field for field
    strict = fake_pipeline(k=3, min_confidence=1.0)
    with TestClient(create_app(ServerSettings(), pipeline=strict)) as c:
        body = c.post("/v1/ask", json={"question": q}).json()
    assert body["results"][0]["abstained"] is True and body["results"][0]["answers"]
    assert body["min_confidence"] == 1.0


def test_ask_many_questions_keeps_order(client: TestClient) -> None:
    qs = ["What is the capital of Italy?", "What is the capital of Germany?"]
    r = client.post("/v1/ask", json={"questions": qs, "top_n": 1})
    assert r.status_code == 200
    assert [x["question"] for x in r.json()["results"]] == qs
    assert [x["answers"][0]["text"] for x in r.json()["results"]] == ["Rome", "Berlin"]


def test_concurrent_requests_get_same_answers_as_alone(client: TestClient) -> None:
    qs = ["What is the capital of Italy?", "What is the capital of Germany?", "Which capital is Madrid?"] * 4
    alone = {q: client.post("/v1/ask", json={"question": q}).json()["results"][0] for q in set(qs)}
    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(lambda q: client.post("/v1/ask", json={"question": q}).json()["results"][0], qs))
    assert got == [alone[q] for q in qs]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"question": ""}, "empty"),
        ({"question": "x" * 201}, "too long"),
        ({"questions": ["a"] * 5}, "too many questions"),
        ({"question": "a", "top_n": 6}, "top_n"),
        ({"question": "a", "top_n": 0}, "top_n"),
        ({}, "exactly one"),
        ({"question": "a", "questions": ["b"]}, "exactly one"),
        ({"questions": []}, "empty"),
        ({"question": "a", "bogus": 1}, "bogus"),
    ],
)
def test_ask_limits_are_422_with_reason(client: TestClient, body: dict[str, object], needle: str) -> None:
    r = client.post("/v1/ask", json=body)
    assert r.status_code == 422
    assert needle in r.text


def test_ask_k_sets_retrieved_units_within_max_k(client: TestClient) -> None:
    q = "What is the capital of Germany?"
    r = client.post("/v1/ask", json={"question": q, "top_n": 5, "k": 1})
    assert r.status_code == 200, r.text
    (res,) = r.json()["results"]
    assert {a["passage_id"] for a in res["answers"]} == {"2#p0"}  # only the top unit was read
    wide = client.post("/v1/ask", json={"question": q, "top_n": 5, "k": 7}).json()["results"][0]
    assert len({a["passage_id"] for a in wide["answers"]}) > 1
    default = client.post("/v1/ask", json={"question": q, "top_n": 5}).json()["results"][0]
    assert default == result_dict_of(q, fake_pipeline(k=3).ask([q], 5)[0])  # the server's k
    for bad, needle in (({"k": 8}, "k=8"), ({"k": 0}, "k"), ({"k": None}, "null")):
        r = client.post("/v1/ask", json={"question": q, **bad})
        assert r.status_code == 422 and needle in r.text, r.text
    spec = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]
    assert spec["properties"]["k"]["maximum"] == 7


def test_ask_passages_returns_the_passages_read_best_first(client: TestClient) -> None:
    q = "What is the capital of Germany?"
    (res,) = client.post("/v1/ask", json={"question": q, "passages": 2}).json()["results"]
    assert len(res["passages"]) == 2
    for p in res["passages"]:
        assert set(p) == {"passage_id", "doc_id", "title", "retriever_rank", "text"}
        assert p["passage_id"].startswith(p["doc_id"] + "#") and 1 <= p["retriever_rank"] <= 3
    [detail] = fake_pipeline(k=3).ask_detailed([q])
    assert [p["passage_id"] for p in res["passages"]] == [e.passage.id for e in detail.evidence[:2]]
    (plain,) = client.post("/v1/ask", json={"question": q}).json()["results"]
    assert plain["passages"] == [] and plain["answers"] == res["answers"]
    (every,) = client.post("/v1/ask", json={"question": q, "passages": 7}).json()["results"]
    assert len(every["passages"]) == 3  # at most the k = 3 passages read
    for bad in (-1, 1.5, "2", 10**6):
        r = client.post("/v1/ask", json={"question": q, "passages": bad})
        assert r.status_code == 422, (bad, r.text)
    spec = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]
    assert spec["properties"]["passages"]["minimum"] == 0


def result_dict_of(question: str, answers: list[Answer]) -> dict[str, object]:
    from drqa_ng.presentation import result_dict

    return result_dict(question, answers, False)


def test_search(client: TestClient) -> None:
    from drqa_ng.presentation import hits_dict

    r = client.post("/v1/search", json={"query": "capital of Germany", "k": 2})
    assert r.status_code == 200
    (res,) = r.json()["results"]
    assert res == hits_dict("capital of Germany", fake_pipeline().search(["capital of Germany"], 2)[0])
    assert [h["rank"] for h in res["hits"]] == [1, 2]
    assert res["query"] == "capital of Germany"
    assert res["hits"][0]["id"] == "2#p0" and "Germany" in res["hits"][0]["text"]
    assert len(res["hits"]) == 2
    r = client.post("/v1/search", json={"query": "capital", "k": 8})
    assert r.status_code == 422 and "k=8" in r.text


def test_docs(client: TestClient) -> None:
    r = client.get("/v1/docs/3")
    assert r.status_code == 200 and r.json()["title"] == "Rome"
    r = client.get("/v1/docs/3%23p1")
    assert r.status_code == 200 and r.json()["text"].startswith("The Colosseum")
    r = client.get("/v1/docs/404")
    assert r.status_code == 404 and "404" in r.json()["detail"]
    assert r.json()["error"] == "NotFoundError"


def test_health_and_openapi_and_page(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["unit"] == "paragraph"
    spec = client.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/search", "/v1/docs/{doc_id}", "/healthz"} <= set(spec["paths"])
    page = client.get("/")
    assert page.status_code == 200 and 'id="question"' in page.text
    assert client.get("/static/app.js").status_code == 200


def test_api_key(auth_client: TestClient) -> None:
    body = {"question": "What is the capital of Germany?"}
    assert auth_client.post("/v1/ask", json=body).status_code == 401
    assert auth_client.post("/v1/ask", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert auth_client.post("/v1/ask", json=body, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert auth_client.get("/v1/docs/1").status_code == 401
    assert auth_client.get("/healthz").status_code == 200  # probes need no key


def test_drqa_errors_map_to_http_status() -> None:
    pipe = fake_pipeline()

    def broken(*a: object, **k: object) -> object:
        raise IndexFormatError("index is corrupt")

    pipe.retriever.search = broken  # type: ignore[method-assign]
    with TestClient(create_app(ServerSettings(), pipeline=pipe)) as c:
        r = c.post("/v1/search", json={"query": "x"})
        assert r.status_code == 500 and r.json() == {
            "detail": "index is corrupt",
            "error": "IndexFormatError",
        }
        r = c.post("/v1/ask", json={"question": "x"})
        assert r.status_code == 500 and r.json()["error"] == "IndexFormatError"


def test_create_app_needs_something_to_load() -> None:
    with pytest.raises(InputError):
        create_app(ServerSettings())


def test_optional_router_modules_are_included(tmp_path: object) -> None:
    settings = ServerSettings(routers=("tests.serving.extra_router",), extra=(("greeting", "hi"),))
    with TestClient(create_app(settings, pipeline=fake_pipeline())) as c:
        assert c.get("/v1/hello").json() == {"greeting": "hi"}


def test_app_loads_real_pipeline_in_lifespan(tiny_sparse_index, tiny_docstore, tiny_model_dir) -> None:  # type: ignore[no-untyped-def]
    from drqa_ng.pipeline import PipelineSettings

    settings = ServerSettings(
        pipeline=PipelineSettings(indexes=(tiny_sparse_index,), docs=tiny_docstore, reader=tiny_model_dir)
    )
    app = create_app(settings)
    assert app.state.drqa is None  # nothing loaded before startup
    with TestClient(app) as c:
        r = c.post("/v1/ask", json={"questions": ["What is the capital of France?", "Who created Python?"]})
        assert r.status_code == 200
        res = r.json()["results"]
        assert len(res) == 2 and all(x["answers"] for x in res)
        r = c.post("/v1/search", json={"query": "capital of France", "k": 3})
        assert r.json()["results"][0]["hits"][0]["doc_id"] == "france"
        assert c.get("/v1/docs/france").json()["title"] == "France"
        assert c.get("/v1/docs/france%23p0").json()["text"].startswith("Paris is the capital")
        assert c.get("/v1/docs/france%23p99").status_code == 404


def test_video_router_is_off_unless_its_setting_is_given() -> None:
    with TestClient(create_app(ServerSettings(), pipeline=fake_pipeline())) as c:
        assert "/v1/video/ask" not in c.get("/openapi.json").json()["paths"]
        assert c.get("/healthz").json()["video"] is False


def test_video_router_is_served_when_its_index_is_set(video_index_dir) -> None:  # type: ignore[no-untyped-def]
    settings = ServerSettings(extra=(("video_index", str(video_index_dir)), ("video_recognize", "0")))
    with TestClient(create_app(settings, pipeline=fake_pipeline())) as c:
        r = c.post("/v1/video/ask", json={"question": "What is the keeper's name?", "recognize": False})
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["answers"]
        assert c.post("/v1/ask", json={"question": "What is the capital of Germany?"}).status_code == 200
        assert c.get("/healthz").json()["video"] is True


def test_video_answers_carry_the_reader_span_like_ask_answers(video_index_dir) -> None:  # type: ignore[no-untyped-def]
    """Before: the route read ``app.state.video_reader``, which nothing set, so no answer had a span."""
    settings = ServerSettings(extra=(("video_index", str(video_index_dir)), ("video_recognize", "0")))
    with TestClient(create_app(settings, pipeline=fake_pipeline())) as c:
        r = c.post("/v1/video/ask", json={"question": "What is the keeper's name?", "recognize": False})
        assert r.status_code == 200, r.text
        answers = r.json()["results"][0]["answers"]
        spans = [a["span"] for a in answers if a["span"] is not None]
        assert spans and len(spans) == len(answers)
        for a in answers:
            span = a["span"]
            assert (
                span["text"] == a["answer"]
                and span["passage_text"][span["start"] : span["end"]] == span["text"]
            )
            assert (span["t_start"], span["t_end"]) == (a["t_start"], a["t_end"])
            assert span["passage_id"] == a["segment_id"] and span["doc_id"] == a["video_id"]
            assert span["passage_text"].startswith(a["text"])  # the subtitles (+ any OCR text)
    from drqa_ng.presentation import video_answer_dict
    from drqa_ng.video.index import VideoIndex
    from drqa_ng.video.qa import answer_questions

    (mine,) = answer_questions(
        VideoIndex.open(video_index_dir), ["What is the keeper's name?"], reader=fake_pipeline().reader
    )

    def same(d: dict[str, object]) -> dict[str, object]:  # timings differ run to run
        return {k: v for k, v in d.items() if k not in ("accounting", "media_url")}

    assert [same(a) for a in answers] == [same(video_answer_dict(a)) for a in mine]  # the CLI's JSON
    off = ServerSettings(extra=(*settings.extra, ("video_reader", "0")))
    with TestClient(create_app(off, pipeline=fake_pipeline())) as c:
        r = c.post("/v1/video/ask", json={"question": "What is the keeper's name?", "recognize": False})
        assert all(a["span"] is None and a["answer"] is None for a in r.json()["results"][0]["answers"])


def test_video_media_links_serve_the_indexed_file_with_ranges(video_index_dir, video_dir) -> None:  # type: ignore[no-untyped-def]
    extra = (
        ("video_index", str(video_index_dir)),
        ("video_recognize", "0"),
        ("video_media_roots", str(video_dir)),
    )
    settings = ServerSettings(api_key="k3y", extra=extra)
    key = {"X-API-Key": "k3y"}
    with TestClient(create_app(settings, pipeline=fake_pipeline())) as c:
        r = c.post("/v1/video/ask", json={"question": "Who is the keeper?", "recognize": False}, headers=key)
        top = r.json()["results"][0]["answers"][0]
        url, frag = top["media_url"].split("#")
        assert url == f"/v1/video/media/{top['video_id']}"
        assert frag == f"t={top['t_start']:.1f},{top['t_end']:.1f}"
        assert c.get(url).status_code == 401  # media is behind the API key like every /v1 route
        whole = c.get(url, headers=key)
        assert whole.status_code == 200
        assert whole.content == (video_dir / f"{top['video_id']}.avi").read_bytes()
        part = c.get(url, headers={**key, "Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == whole.content[10:20]
        missing = c.get("/v1/video/media/nope", headers=key)
        assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_int8_reader_answers_do_not_depend_on_other_users_requests(
    tiny_sparse_index, tiny_docstore, tiny_onnx_dir
) -> None:  # type: ignore[no-untyped-def]
    """The micro-batcher mixes users' questions into one reader call; nobody's answers may change."""
    from drqa_ng.pipeline import PipelineSettings
    from tests.fixtures.corpus import TINY_FACTS

    settings = ServerSettings(
        pipeline=PipelineSettings(indexes=(tiny_sparse_index,), docs=tiny_docstore, reader=tiny_onnx_dir),
        batch_wait_ms=100,
    )
    qs = [q for q, _, _ in TINY_FACTS] * 2
    with TestClient(create_app(settings)) as c:
        alone = {q: c.post("/v1/ask", json={"question": q}).json()["results"][0] for q in set(qs)}
        before = c.app.state.drqa.batcher.batches  # type: ignore[attr-defined]
        with ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda q: c.post("/v1/ask", json={"question": q}).json()["results"][0], qs))
        mixed_calls = c.app.state.drqa.batcher.batches - before  # type: ignore[attr-defined]
    assert mixed_calls < len(qs)  # requests really were read together
    assert got == [alone[q] for q in qs]


def test_overlapped_server_answers_like_the_sequential_one() -> None:
    questions = ["What is the capital of Germany?", "Who built the Eiffel Tower?", "", "xyzzy nothing"]
    bodies = []
    for overlap in (False, True):
        pipe = fake_pipeline(k=3, overlap=overlap)
        # deadline 0: no admission by expected wait, so the 4 concurrent requests on a cold server are
        # all read (admission has its own tests); the answers are what is compared here
        with TestClient(create_app(ServerSettings(deadline_s=0), pipeline=pipe)) as c:
            assert (c.app.state.drqa.batcher.stages is not None) is overlap  # type: ignore[attr-defined]
            with ThreadPoolExecutor(4) as ex:
                rs = list(ex.map(lambda q: c.post("/v1/ask", json={"question": q, "top_n": 2}), questions))
        bodies.append([(r.status_code, r.json().get("results")) for r in rs])
    assert bodies[0] == bodies[1]
    assert [code for code, _ in bodies[1]] == [200, 200, 422, 200]
