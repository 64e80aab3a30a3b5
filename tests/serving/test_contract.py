"""Schemathesis against the app in-process (ASGI, no network): zero 5xx and zero contract failures.

Every operation of the OpenAPI document is called with generated requests, valid and invalid, and
each reply is checked with all of schemathesis' checks (no 5xx, status declared, body schema,
content type, headers, invalid data refused, valid data accepted, auth not ignored). Bounded:
``MAX_EXAMPLES`` per operation and phase. Once without and once with an API key (the document
differs: the key scheme and its 401 are declared only with a key).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from serving.app import create_app
from serving.settings import ServerSettings
from tests.serving.fakes import fake_pipeline

MAX_EXAMPLES = 25
KEY = "contract-key"
STATUSES: list[int] = []  # every reply's status, for the summary test at the end


def _schema(video_index_dir: Path, api_key: str | None) -> schemathesis.BaseSchema:
    video = (("video_index", str(video_index_dir)), ("video_recognize", "0"))
    app = create_app(ServerSettings(api_key=api_key, extra=video), pipeline=fake_pipeline(k=3))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def open_api(video_index_dir: Path) -> schemathesis.BaseSchema:
    return _schema(video_index_dir, None)


@pytest.fixture(scope="module")
def keyed_api(video_index_dir: Path) -> schemathesis.BaseSchema:
    return _schema(video_index_dir, KEY)


open_schema = schemathesis.pytest.from_fixture("open_api")
keyed_schema = schemathesis.pytest.from_fixture("keyed_api")
bounded = settings(
    max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


@open_schema.parametrize()
@bounded
def test_contract_without_key(case: schemathesis.Case) -> None:
    STATUSES.append(case.call_and_validate().status_code)


@keyed_schema.parametrize()
@bounded
def test_contract_with_key(case: schemathesis.Case) -> None:
    STATUSES.append(case.call_and_validate(headers={"X-API-Key": KEY}).status_code)


def test_contract_runs_covered_many_cases_and_no_5xx() -> None:
    """Runs after the two above (file order); with ``-s`` prints the figures quoted in the README."""
    if not STATUSES:
        pytest.skip("run together with the contract tests above")
    counts = {code: STATUSES.count(code) for code in sorted(set(STATUSES))}
    print(f"\ncontract: {len(STATUSES)} requests, status counts {counts}")
    assert len(STATUSES) >= 100 and not any(code >= 500 for code in STATUSES)
    assert any(200 <= code < 300 for code in STATUSES) and 422 in counts
