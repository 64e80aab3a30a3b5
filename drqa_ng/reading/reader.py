"""The reader API: ``load_reader`` and the batched ``Reader.read``.

``read`` turns every (question, passage) pair of a call into token windows and runs each question's
windows through the model as batches of their own (at most ``batch_size`` windows, sorted by length,
padded to the longest of the batch), so the model input depends on that question and its passages
only: dynamic int8 quantisation computes activation scales over the whole input tensor, and padding
changes fp32 kernel shapes, so mixing questions in one batch made a question's answers depend on the
other questions read with it. Then it decodes the best spans of each window
(``decoding.best_spans``) and keeps each question's ``top_n`` best spans over all its passages.
``reader_score`` is the raw span score ``start_logit + end_logit`` of the window the span came from
(max over the overlapping windows that contain it), so it is comparable across the passages and
windows of a question and across questions of one model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drqa_ng.errors import InputError, UnsupportedError
from drqa_ng.reading.decoding import balanced_span, best_spans
from drqa_ng.reading.features import Windows, make_windows, window_tokenizer
from drqa_ng.types import Answer, Passage

log = logging.getLogger(__name__)

LogitsFn = Callable[[Windows], tuple[np.ndarray, np.ndarray]]
BACKENDS = ("auto", "torch", "onnx")


@dataclass(frozen=True, slots=True)
class ReaderSettings:
    """Windowing and decoding parameters (stored in a model's manifest so inference matches training).

    ``batch_size`` caps the windows of one question run in one model call (windows of different
    questions are never batched together; see the module docstring). Each call is padded to its
    longest window, so small batches of length-sorted windows pad least: at k = 10 on the quickstart
    home, 4 instead of 32 cut ``ask`` from ~200 to ~135 ms a question on 2 cores with the same or
    better top-answer EM on the tune halves of all five question sets (mean 9.60 -> 10.93;
    docs/performance.md).
    """

    max_length: int = 384
    stride: int = 128
    max_answer_len: int = 30
    batch_size: int = 4


@dataclass(frozen=True, slots=True)
class PreparedRead:
    """``SpanReader.prepare``'s output: the non-empty passages of a call in pair order, their windows
    (``None`` when there is nothing to read) and the question index of every window row."""

    n_questions: int
    passages: tuple[Passage, ...]
    windows: Windows | None
    question_of_row: np.ndarray


class SpanReader:
    """A ``Reader`` over any window -> (start, end) logits function (torch module or ONNX session)."""

    def __init__(self, tokenizer: Any, logits_fn: LogitsFn, settings: ReaderSettings, backend: str) -> None:
        self.tokenizer = tokenizer
        self._windower = window_tokenizer(tokenizer, settings.max_length, settings.stride)
        self.logits_fn = logits_fn
        self.settings = settings
        self.backend = backend

    def read(
        self,
        questions: Sequence[str],
        passages: Sequence[Sequence[Passage]],
        top_n: int = 1,
        *,
        every_passage: bool = False,
    ) -> list[list[Answer]]:
        return self.read_prepared(self.prepare(questions, passages), top_n, every_passage=every_passage)

    def prepare(self, questions: Sequence[str], passages: Sequence[Sequence[Passage]]) -> PreparedRead:
        """The CPU half of ``read``: tokenise every (question, passage) pair into windows, no model call.

        ``read_prepared`` runs the model on the result; splitting them lets a pipeline tokenise the
        next batch while the model reads this one (``drqa_ng.stages``).
        """
        if isinstance(questions, str):
            raise InputError("questions must be a list of strings, not one string")
        if len(questions) != len(passages):
            raise InputError(f"{len(questions)} questions but {len(passages)} passage lists")
        pair_q: list[int] = []
        pair_p: list[Passage] = []
        for qi, plist in enumerate(passages):
            for p in plist:
                if p.text.strip():
                    pair_q.append(qi)
                    pair_p.append(p)
        if not pair_p:
            return PreparedRead(len(questions), (), None, np.zeros(0, dtype=np.int64))
        st = self.settings
        win = make_windows(
            self.tokenizer,
            [questions[q] for q in pair_q],
            [p.text for p in pair_p],
            st.max_length,
            st.stride,
            windower=self._windower,
        )
        question_of_row = np.asarray(pair_q, dtype=np.int64)[win.pair]
        return PreparedRead(len(questions), tuple(pair_p), win, question_of_row)

    def read_prepared(
        self, prep: PreparedRead, top_n: int = 1, *, every_passage: bool = False
    ) -> list[list[Answer]]:
        """The model half of ``read``: run the windows of ``prep`` and keep each question's ``top_n`` spans.

        ``every_passage``: after those ``top_n``, each question's list also holds the best span of every
        passage that has none among them (best first), so a caller learns how well each passage reads
        (``QAPipeline`` orders evidence by it); the first ``top_n`` entries are unchanged."""
        if top_n < 1:
            raise InputError(f"top_n must be >= 1, got {top_n}")
        st = self.settings
        results: list[dict[tuple[int, int, int], float]] = [{} for _ in range(prep.n_questions)]
        win = prep.windows
        if win is not None:
            lengths = win.attention_mask.sum(axis=1)
            for qi in np.unique(prep.question_of_row):
                # this question's windows only, by length, in chunks of batch_size: the model input
                # depends on nothing but the question and its passages
                rows = np.nonzero(prep.question_of_row == qi)[0]
                rows = rows[np.argsort(lengths[rows], kind="stable")]
                for b in range(0, len(rows), st.batch_size):
                    self._decode(
                        win.rows(rows[b : b + st.batch_size]), top_n, results[int(qi)], prep.passages
                    )
        out: list[list[Answer]] = []
        for best in results:
            ordered = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
            ranked = ordered[:top_n]
            if every_passage:
                seen = {pair for (pair, _, _), _ in ranked}
                for item in ordered[top_n:]:
                    if item[0][0] not in seen:
                        seen.add(item[0][0])
                        ranked.append(item)
            answers = []
            for (pair, cs, ce), sc in ranked:
                p = prep.passages[pair]
                answers.append(
                    Answer(
                        text=p.text[cs:ce],
                        score=sc,
                        passage=p,
                        start=cs,
                        end=ce,
                        reader_score=sc,
                        retriever_score=0.0,
                    )
                )
            out.append(answers)
        return out

    def _decode(
        self,
        batch: Windows,
        top_n: int,
        best: dict[tuple[int, int, int], float],
        passages: Sequence[Passage],
    ) -> None:
        """Run the model on ``batch`` (windows of one question) and keep each span's best score in ``best``;
        a span holding half a bracket pair is cut to its balanced part (``decoding.balanced_span``)."""
        st = self.settings
        start, end = self.logits_fn(batch)
        s_idx, e_idx, score = best_spans(start, end, batch.context_mask, st.max_answer_len, top_n)
        for r in range(len(batch)):
            pair = int(batch.pair[r])
            for si, ei, sc in zip(s_idx[r], e_idx[r], score[r], strict=True):
                if si < 0:
                    break
                cs, ce = balanced_span(
                    passages[pair].text, int(batch.offsets[r, si, 0]), int(batch.offsets[r, ei, 1])
                )
                key = (pair, cs, ce)
                if sc > best.get(key, -np.inf):
                    best[key] = float(sc)

    def read_one(self, question: str, passages: Sequence[Passage], top_n: int = 1) -> list[Answer]:
        """Single-question convenience wrapper over ``read``."""
        return self.read([question], [passages], top_n)[0]


def settings_from_manifest(manifest: Mapping[str, Any], batch_size: int | None) -> ReaderSettings:
    """The window settings a folder's manifest (or a checkpoint's ``checkpoint_settings``) records,
    the defaults for those it lacks."""
    d = ReaderSettings()
    if batch_size is not None and batch_size < 1:
        raise InputError(f"the reader's window batch must be >= 1, got {batch_size}")

    def get(key: str, default: int) -> int:
        value = manifest.get(key)
        return default if value is None else int(value)

    return ReaderSettings(
        max_length=get("max_length", d.max_length),
        stride=get("stride", d.stride),
        max_answer_len=get("max_answer_len", d.max_answer_len),
        batch_size=d.batch_size if batch_size is None else int(batch_size),
    )


def torch_reader(model: Any, tokenizer: Any, settings: ReaderSettings) -> SpanReader:
    """A reader over an in-memory torch module ``(input_ids, attention_mask, token_type_ids) -> (start,
    end)``: a ``SpanModel`` (training evaluates checkpoints with it) or ``hf.load_qa_model``'s module."""
    import torch

    device = next(model.parameters()).device

    def logits(w: Windows) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            s, e = model(
                torch.as_tensor(w.input_ids, device=device),
                torch.as_tensor(w.attention_mask, device=device),
                torch.as_tensor(w.token_type_ids, device=device),
            )
        return s.float().cpu().numpy(), e.float().cpu().numpy()

    return SpanReader(tokenizer, logits, settings, "torch")


def default_weights_dir() -> Path:
    """The int8 reader shipped inside the package."""
    return Path(__file__).resolve().parent / "weights"


def onnx_reader(session: Any, tokenizer: Any, settings: ReaderSettings) -> SpanReader:
    """A reader over an onnxruntime session; feeds only the inputs the graph declares (RoBERTa-style
    exports take no ``token_type_ids``)."""
    names = {i.name for i in session.get_inputs()}

    def logits(w: Windows) -> tuple[np.ndarray, np.ndarray]:
        s, e = session.run(["start_logits", "end_logits"], w.model_inputs(names))
        return np.asarray(s), np.asarray(e)

    return SpanReader(tokenizer, logits, settings, "onnx")


def load_reader(
    path: Path | str | None = None,
    *,
    backend: str = "auto",
    batch_size: int | None = None,
    threads: int | None = None,
    cache_dir: Path | None = None,
) -> SpanReader:
    """Load a reader: a trained model folder (torch), an exported ONNX folder (onnxruntime) or any
    Hugging Face extractive-QA checkpoint, as a folder or a hub name (``hf.resolve_checkpoint``).

    ``path=None`` loads the shipped int8 weights. ``backend="auto"`` picks by the folder's kind (torch
    for a Hugging Face checkpoint); ``backend="onnx"`` on a checkpoint exports it once to int8 ONNX
    under ``cache_dir`` (default ``$XDG_CACHE_HOME/drqa_ng/readers``, keyed by the weights' sha256).
    A folder that cannot serve the backend raises ``UnsupportedError``. ``threads`` caps the
    onnxruntime session's threads (torch threads are process-wide: set them with
    ``torch.set_num_threads``). Corrupt or mismatched files raise ``IndexFormatError``; a missing
    folder ``NotFoundError``. The ONNX path imports neither torch nor transformers.
    """
    from drqa_ng.reading.features import load_tokenizer
    from drqa_ng.reading.formats import MODEL_KIND
    from drqa_ng.reading.hf import is_checkpoint, resolve_checkpoint
    from drqa_ng.reading.onnx_io import ONNX_KIND, load_onnx_session

    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    folder = resolve_checkpoint(path) if path is not None else default_weights_dir()
    if is_checkpoint(folder):
        return _checkpoint_reader(folder, backend, batch_size, threads, cache_dir)
    from drqa_ng.reading.manifest import ReaderManifest

    manifest = ReaderManifest.load(folder)
    kind = manifest.kind
    settings = settings_from_manifest(manifest.to_json(), batch_size)
    if kind == MODEL_KIND and backend in ("auto", "torch"):
        from drqa_ng.reading.model import load_model

        return torch_reader(load_model(folder), load_tokenizer(folder), settings)
    if kind == ONNX_KIND and backend in ("auto", "onnx"):
        session = load_onnx_session(folder, threads=threads)
        tokenizer = load_tokenizer(folder)
        reference = manifest.extra.get("self_check")
        if isinstance(reference, dict):
            from drqa_ng.reading.onnx_io import CHECK_MIN_CORRELATION, self_check

            agree = self_check(session, tokenizer, reference)
            if agree < CHECK_MIN_CORRELATION:
                raise UnsupportedError(
                    f"{folder}: on this CPU the reader's int8 arithmetic does not reproduce its fp32 logits "
                    f"(correlation {agree:.2f} on the export's check window; x86 CPUs without VNNI can "
                    "overflow int8 products): export it again with `drqa-ng export-reader MODEL OUT "
                    "--fp32-compute all` (int8 weights, fp32 arithmetic)"
                )
        return onnx_reader(session, tokenizer, settings)
    raise UnsupportedError(
        f"{folder} holds a {kind!r} folder, which the {backend!r} backend cannot load"
        + (" (run `drqa-ng export-reader` to get an ONNX folder)" if kind == MODEL_KIND else "")
    )


def _checkpoint_reader(
    folder: Path, backend: str, batch_size: int | None, threads: int | None, cache_dir: Path | None
) -> SpanReader:
    from drqa_ng.reading.features import load_tokenizer
    from drqa_ng.reading.hf import checkpoint_settings, load_qa_model

    if backend == "onnx":
        from drqa_ng.reading.onnx_io import cached_export

        return load_reader(
            cached_export(folder, cache_dir), backend="onnx", batch_size=batch_size, threads=threads
        )
    settings = settings_from_manifest(checkpoint_settings(folder), batch_size)
    return torch_reader(load_qa_model(folder), load_tokenizer(folder), settings)
