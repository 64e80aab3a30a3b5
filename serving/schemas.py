"""HTTP request/response models. Kept apart from the internal dataclasses; converters live here."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drqa_ng.presentation import answer_dict, result_dict
from drqa_ng.types import Answer, Passage

# Hard caps the schema enforces before any setting is consulted (settings may only lower them).
HARD_MAX_QUESTIONS = 1024
HARD_MAX_CHARS = 10_000
HARD_MAX_K = 1000


class QuestionsRequest(BaseModel):
    """One question (``question``) or many (``questions``), not both; routers subclass it to add options."""

    model_config = ConfigDict(extra="forbid")

    question: str | None = Field(default=None, max_length=HARD_MAX_CHARS, examples=["Who wrote Hamlet?"])
    questions: list[str] | None = Field(default=None, max_length=HARD_MAX_QUESTIONS)

    @model_validator(mode="after")
    def _one_of(self) -> QuestionsRequest:
        if (self.question is None) == (self.questions is None):
            raise ValueError("give exactly one of 'question' or 'questions'")
        if self.questions is not None and not self.questions:
            raise ValueError("'questions' is empty")
        return self

    def as_list(self) -> list[str]:
        return [self.question] if self.question is not None else list(self.questions or [])


class AskRequest(QuestionsRequest):
    """One question (``question``) or many (``questions``), not both."""

    top_n: int = Field(default=5, ge=1, le=HARD_MAX_K, description="answers per question")


class SearchRequest(BaseModel):
    """One query (``query``) or many (``queries``); ``k`` hits each."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(default=None, max_length=HARD_MAX_CHARS)
    queries: list[str] | None = Field(default=None, max_length=HARD_MAX_QUESTIONS)
    k: int = Field(default=10, ge=1, le=HARD_MAX_K)

    @model_validator(mode="after")
    def _one_of(self) -> SearchRequest:
        if (self.query is None) == (self.queries is None):
            raise ValueError("give exactly one of 'query' or 'queries'")
        if self.queries is not None and not self.queries:
            raise ValueError("'queries' is empty")
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


class QuestionAnswers(BaseModel):
    question: str
    abstained: bool = Field(
        default=False,
        description="true: no confident answer (best confidence below the server's threshold); "
        "the answers are still listed as the best evidence",
    )
    answers: list[AnswerOut]

    @classmethod
    def of(cls, question: str, answers: Sequence[Answer], abstained: bool) -> QuestionAnswers:
        return cls.model_validate(result_dict(question, answers, abstained))


class AskResponse(BaseModel):
    results: list[QuestionAnswers]
    latency_ms: float
    min_confidence: float = Field(default=0.0, description="the abstention threshold this server uses")


class HitOut(BaseModel):
    id: str
    doc_id: str
    score: float
    title: str
    text: str

    @classmethod
    def of(cls, score: float, p: Passage) -> HitOut:
        return cls(id=p.id, doc_id=p.doc_id, score=score, title=p.title, text=p.text)


class QueryHits(BaseModel):
    query: str
    hits: list[HitOut]


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
