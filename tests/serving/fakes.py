"""Small fakes of the retriever, doc store and reader protocols, so QA tests need no model weights.

- ``FakeStore``: documents in memory, paragraph ids ``{doc}#p{i}`` as the real doc store writes them.
- ``FakeRetriever``: scores units by how many question words they share (ties broken by id).
- ``FakeReader``: in each passage proposes every capitalised word not in the question; its score is
  the passage's word overlap with the question minus a small penalty per position, so it is
  deterministic and depends only on (question, passage).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from drqa_ng.types import Answer, Document, Hit, Passage

_WORD = re.compile(r"\w+")

DOCS = (
    Document(
        "1", "Paris", "Paris is the capital of France.\n\nThe Eiffel Tower was built by Gustave Eiffel."
    ),
    Document("2", "Berlin", "Berlin is the capital of Germany.\n\nThe Brandenburg Gate stands in Berlin."),
    Document("3", "Rome", "Rome is the capital of Italy.\n\nThe Colosseum was built under Vespasian."),
    Document("4", "Madrid", "Madrid is the capital of Spain. Spain borders France."),
)


def split_paragraphs(doc: Document) -> list[Passage]:
    """Blank-line paragraphs ``{doc}#p{i}`` with exact offsets (the real store also merges short ones)."""
    out: list[Passage] = []
    for m in re.finditer(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", doc.text, flags=re.DOTALL):
        out.append(
            Passage(f"{doc.id}#p{len(out)}", doc.id, doc.title, m.group(0), m.start(), m.end(), "paragraph")
        )
    return out


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


class FakeStore:
    def __init__(self, docs: Sequence[Document] = DOCS) -> None:
        self.docs = {d.id: d for d in docs}
        self.passages = {p.id: p for d in docs for p in split_paragraphs(d)}

    def get_passages(self, ids: Sequence[str]) -> list[Passage | None]:
        return [self.passages.get(i) for i in ids]

    def get_documents(self, ids: Sequence[str]) -> list[Document | None]:
        return [self.docs.get(i) for i in ids]

    def get_units(self, doc_ids: Sequence[str], unit: str) -> list[list[Passage]]:
        assert unit == "paragraph"
        return [[p for p in self.passages.values() if p.doc_id == d] for d in doc_ids]

    def get_titles(self, ids: Sequence[str]) -> list[str | None]:
        return [self.docs[i].title if i in self.docs else None for i in ids]

    def titled(self, keys: Sequence[str]) -> list[str]:
        from drqa_ng.store.docstore import title_key

        want = set(keys)
        return [d.id for d in self.docs.values() if title_key(d.title) in want]


class FakeRetriever:
    def __init__(self, store: FakeStore, unit: str = "paragraph") -> None:
        self._unit = unit
        if unit == "doc":
            self.units = [(d.id, d.id, d.text) for d in store.docs.values()]
        else:
            self.units = [(p.id, p.doc_id, p.text) for p in store.passages.values()]
        self.calls: list[list[str]] = []

    @property
    def unit(self) -> str:
        return self._unit

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        self.calls.append(list(queries))
        out = []
        for q in queries:
            qw = words(q)
            scored = [(len(qw & words(t)), uid, did) for uid, did, t in self.units]
            scored = [s for s in scored if s[0] > 0]
            scored.sort(key=lambda s: (-s[0], s[1]))
            out.append([Hit(uid, did, float(sc)) for sc, uid, did in scored[:k]])
        return out


class FakeReader:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[Passage]], top_n: int
    ) -> list[list[Answer]]:
        self.batches.append(len(questions))
        out = []
        for q, ps in zip(questions, passages, strict=True):
            qw = words(q)
            cands = []
            for p in ps:
                overlap = len(qw & words(p.text))
                for rank, m in enumerate(re.finditer(r"\b[A-Z][a-z]+\b", p.text)):
                    if m.group(0).lower() in qw:
                        continue
                    cands.append(
                        Answer(
                            text=m.group(0),
                            score=0.0,
                            passage=p,
                            start=m.start(),
                            end=m.end(),
                            reader_score=overlap - 0.1 * rank,
                            retriever_score=0.0,
                        )
                    )
            cands.sort(key=lambda a: (-a.reader_score, a.passage.id, a.start))
            out.append(cands[:top_n])
        return out


def fake_pipeline(unit: str = "paragraph", **kw: object):  # type: ignore[no-untyped-def]
    from drqa_ng.pipeline import QAPipeline

    store = FakeStore()
    return QAPipeline(FakeRetriever(store, unit), store, FakeReader(), **kw)  # type: ignore[arg-type]
