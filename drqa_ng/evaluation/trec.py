"""TREC run files: the ranked lists of a retrieval run in the format trec_eval, ir_measures and
Pyserini read (Voorhees & Harman, "TREC: Experiment and Evaluation in Information Retrieval", 2005).

One line per retrieved unit, whitespace-separated::

    qid Q0 docid rank score tag

``Q0`` is a literal unused column, ``rank`` counts from 1 in score order and ``tag`` names the run.
The ``docid`` is the retrieved unit's id (``12#p3`` for a paragraph, the document id for doc units).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from drqa_ng.errors import DataFormatError, InputError
from drqa_ng.types import Hit

DEFAULT_TAG = "drqa-ng"


def check_trec_field(value: str, what: str) -> str:
    """``value`` unchanged when it can be one column of a run file; InputError otherwise."""
    if not value or any(c.isspace() for c in value):
        raise InputError(f"{what} {value!r} cannot go in a TREC run file (empty or has whitespace)")
    return value


def trec_run_lines(qids: Sequence[str], ranked: Sequence[Sequence[Hit]], tag: str) -> Iterator[str]:
    """``qid Q0 docid rank score tag`` lines, queries in the given order, hits in ranked order."""
    if len(qids) != len(ranked):
        raise InputError(f"{len(qids)} query ids for {len(ranked)} ranked lists")
    check_trec_field(tag, "run tag")
    for qid in qids:
        check_trec_field(qid, "query id")
    for qid, hits in zip(qids, ranked, strict=True):
        for rank, h in enumerate(hits, 1):
            if not h.id or any(c.isspace() for c in h.id):
                raise DataFormatError(f"unit id {h.id!r} has whitespace: it cannot go in a TREC run file")
            yield f"{qid} Q0 {h.id} {rank} {h.score:.6f} {tag}"


def write_trec_run(path: Path, qids: Sequence[str], ranked: Sequence[Sequence[Hit]], tag: str) -> Path:
    """Write the run to ``path`` (parent folders created); returns ``path``."""
    path = Path(path)
    lines = list(trec_run_lines(qids, ranked, tag))  # validated before the file is touched
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
