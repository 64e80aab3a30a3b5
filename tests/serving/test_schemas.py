"""HTTP request models (serving/schemas.py)."""

from __future__ import annotations


def test_http_defaults_are_the_cli_defaults() -> None:
    from drqa_ng.cli.main import build_parser
    from drqa_ng.config import DEFAULT_K, DEFAULT_TOP_N
    from serving.schemas import AskRequest, SearchRequest

    parser = build_parser()
    assert SearchRequest(query="q").k == parser.parse_args(["search", "q"]).k == DEFAULT_K
    assert AskRequest(question="q").top_n == parser.parse_args(["ask", "q"]).top_n == DEFAULT_TOP_N
