"""HTTP request/response models. Kept apart from the internal dataclasses; converters live here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from drqa_ng.pipeline import Evidence, SearchHit
from drqa_ng.presentation import answer_dict, hits_dict, result_dict
from drqa_ng.request import DEFAULT_K, DEFAULT_TOP_N, MAX_K, MAX_QUESTION_CHARS
from drqa_ng.types import Answer

# Hard caps the schema enforces before any setting is consulted (settings may only lower them); the
# characters and k are the request contract's own (``drqa_ng.request``), checked by ``check_request``.
HARD_MAX_QUESTIONS = 1024
HARD_MAX_CHARS = MAX_QUESTION_CHARS
HARD_MAX_K = MAX_K

# Schema-only constraints (the checks themselves give friendlier messages): a text has a non-space.
# ``[^\s\x1c-\x1f\x85]``: a character that ``str.strip`` keeps (Python's whitespace, as the checks use).
TEXT_SCHEMA: dict[str, Any] = {"minLength": 1, "pattern": r"[^\s\x1c-\x1f\x85]"}
LIST_SCHEMA: dict[str, Any] = {"minItems": 1}
# Optional fields whose null is not part of the schema (sending null is refused, see check_one_of).
Text = Annotated[str, StringConstraints(max_length=HARD_MAX_CHARS)]


def _integral_float(value: object) -> object:
    """18.0 is an integer in JSON Schema; strict pydantic would refuse it, so it becomes 18 first."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer as JSON Schema defines it (18 and 18.0; not "18", true or 18.5), for strict models.
WholeNumber = Annotated[int, BeforeValidator(_integral_float)]
TextItem = Annotated[str, Field(json_schema_extra=TEXT_SCHEMA)]
TextList = Annotated[list[TextItem], Field(max_length=HARD_MAX_QUESTIONS)]


def one_of_schema(single: str, many: str) -> dict[str, Any]:
    """JSON Schema for "exactly one of ``single`` or ``many``" (both are optional properties)."""
    return {"oneOf": [{"required": [single]}, {"required": [many]}]}


def check_one_of(model: BaseModel, single: str, many: str) -> None:
    """Exactly one of the two fields given (an explicit null counts as given, and is refused)."""
    for name in (single, many):
        if name in model.model_fields_set and getattr(model, name) is None:
            raise ValueError(f"'{name}' must not be null")
    if (getattr(model, single) is None) == (getattr(model, many) is None):
        raise ValueError(f"give exactly one of '{single}' or '{many}'")
    if getattr(model, many) is not None and not getattr(model, many):
        raise ValueError(f"'{many}' is empty")


def check_utf8(value: str | list[str] | None) -> str | list[str] | None:
    """Refuse lone surrogates (``"\\ud800"`` is valid JSON but not text; it cannot be encoded back)."""
    for text in [value] if isinstance(value, str) else value or []:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode text (lone surrogate escape)") from None
    return value


class QuestionsRequest(BaseModel):
    """One question (``question``) or many (``questions``), not both; routers subclass it to add options."""

    # strict: no silent coercion ("5" or true as top_n), so what the schema refuses the server refuses.
    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra=one_of_schema("question", "questions")
    )

    question: Text | SkipJsonSchema[None] = Field(
        default=None, examples=["Who wrote Hamlet?"], json_schema_extra=TEXT_SCHEMA
    )
    questions: TextList | SkipJsonSchema[None] = Field(default=None, json_schema_extra=LIST_SCHEMA)

    _utf8 = field_validator("question", "questions")(check_utf8)

    @model_validator(mode="after")
    def _one_of(self) -> QuestionsRequest:
        check_one_of(self, "question", "questions")
        return self

    def as_list(self) -> list[str]:
        return [self.question] if self.question is not None else list(self.questions or [])


class AskRequest(QuestionsRequest):
    """One question (``question``) or many (``questions``), not both."""

    top_n: WholeNumber = Field(default=DEFAULT_TOP_N, ge=1, le=HARD_MAX_K, description="answers per question")
    passages: WholeNumber = Field(
        default=0,
        ge=0,
        le=HARD_MAX_K,
        description="also return this many of the passages read per question, best first (ordered by what "
        "the reader found in them), with their retriever rank",
    )
    # Field before the validator: the bounds then reach the JSON Schema of the optional integer.
    k: Annotated[int, Field(ge=1, le=HARD_MAX_K), BeforeValidator(_integral_float)] | SkipJsonSchema[None] = (
        Field(
            default=None,
            description=f"retrieved units read per question (default: the server's -k, {DEFAULT_K} unless set)",
        )
    )

    @field_validator("k", mode="before")
    @classmethod
    def _k_not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("'k' must not be null (leave it out for the server's default)")
        return value


class SearchRequest(BaseModel):
    """One query (``query``) or many (``queries``); ``k`` hits each."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra=one_of_schema("query", "queries")
    )

    query: Text | SkipJsonSchema[None] = Field(default=None, json_schema_extra=TEXT_SCHEMA)
    queries: TextList | SkipJsonSchema[None] = Field(default=None, json_schema_extra=LIST_SCHEMA)
    k: WholeNumber = Field(
        default=DEFAULT_K, ge=1, le=HARD_MAX_K, description="hits (retrieved units) per query"
    )

    _utf8 = field_validator("query", "queries")(check_utf8)

    @model_validator(mode="after")
    def _one_of(self) -> SearchRequest:
        check_one_of(self, "query", "queries")
        return self

    def as_list(self) -> list[str]:
        return [self.query] if self.query is not None else list(self.queries or [])


class SupportOut(BaseModel):
    count: int = Field(description="candidate spans with this normalised text, merged into the answer")
    passage_ids: list[str] = Field(description="the distinct passages they came from, best first")


class AnswerOut(BaseModel):
    """An answer; built only from ``drqa_ng.presentation.answer_dict`` (the CLI's JSON is the same dict)."""

    text: str
    confidence: float | None = Field(description="calibrated probability that the answer is correct")
    score: float = Field(description="raw ranking score of the best span: reader + w·retriever")
    reader_score: float
    retriever_score: float = Field(description="retriever score min-max scaled over the question's hits")
    retriever_raw: float
    retriever_rank: int = Field(description="1-based rank of the hit the passage came from (0: unknown)")
    span_prob: float = Field(
        description="softmax mass of the merged spans over all candidates (uncalibrated)"
    )
    support: SupportOut
    doc_id: str
    title: str
    passage_id: str
    start: int = Field(description="answer offset in passage_text")
    end: int
    passage_text: str

    @classmethod
    def of(cls, a: Answer) -> AnswerOut:
        return cls.model_validate(answer_dict(a))


class PassageOut(BaseModel):
    """A passage the reader read; built only from ``drqa_ng.presentation.passage_dict`` (as ``ask --json``)."""

    passage_id: str
    doc_id: str
    title: str
    retriever_rank: int = Field(description="1-based rank of the passage in the retriever's list")
    text: str


class QuestionAnswers(BaseModel):
    question: str
    abstained: bool = Field(
        default=False,
        description="true: no confident answer (best confidence below the server's threshold); "
        "the answers are still listed as the best evidence",
    )
    answers: list[AnswerOut]
    passages: list[PassageOut] = Field(
        default_factory=list,
        description="the first 'passages' (a request field) of the passages read, best first; empty unless asked for",
    )

    @classmethod
    def of(
        cls,
        question: str,
        answers: Sequence[Answer],
        abstained: bool,
        passages: Sequence[Evidence] = (),
    ) -> QuestionAnswers:
        return cls.model_validate(result_dict(question, answers, abstained, passages))


class AskResponse(BaseModel):
    results: list[QuestionAnswers]
    latency_ms: float
    min_confidence: float = Field(default=0.0, description="the abstention threshold this server uses")


class HitOut(BaseModel):
    """A retrieved unit; built only from ``drqa_ng.presentation.hit_dict`` (as the CLI's ``search --json``)."""

    rank: int = Field(description="1-based rank of the hit")
    score: float = Field(description="the retriever's raw score")
    id: str
    doc_id: str
    title: str
    text: str


class QueryHits(BaseModel):
    query: str
    hits: list[HitOut]

    @classmethod
    def of(cls, query: str, hits: Sequence[SearchHit]) -> QueryHits:
        return cls.model_validate(hits_dict(query, hits))


class SearchResponse(BaseModel):
    results: list[QueryHits]
    latency_ms: float


class DocOut(BaseModel):
    id: str
    title: str
    text: str


class Health(BaseModel):
    status: str
    version: str
    unit: str
    batches: int
    batched_questions: int
    video: bool = False  # whether POST /v1/video/ask has an index to answer from


class ErrorOut(BaseModel):
    detail: str
    error: str
