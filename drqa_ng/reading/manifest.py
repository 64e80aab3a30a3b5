"""``manifest.json`` of a reader folder: the one owner of its schema (as ``SparseManifest`` is for
sparse indexes). Importable without torch: the ONNX path reads it on every start.

Two kinds share it: ``reader-model`` (a model trained here, ``model.py``) and ``reader-onnx`` (an
exported folder, ``onnx_io.py``). Typed fields are those the code reads back: the window settings
inference must match (``max_length``, ``stride``, ``max_answer_len``), ``precision``, ``steps``,
``base_encoder`` and, in an ONNX folder, the model ``parts`` with their sha256, the whole model's
size and sha256 and the tokenizer files' sha256. Everything else (recipe, training config and mix,
dev and validation evaluations, notes) is provenance for people, kept in ``extra`` and written back
unchanged. Keys are written sorted, so a rewrite keeps the file's bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from drqa_ng.errors import IndexFormatError
from drqa_ng.index_io import MANIFEST, Fields, FilePart, read_manifest, write_manifest
from drqa_ng.reading.formats import MODEL_KIND, MODEL_VERSION, ONNX_KIND, ONNX_VERSION

OnnxPart = FilePart
"""One ``model.onnx.partN`` file of an ONNX folder: its name, size and sha256."""


@dataclass(frozen=True, slots=True)
class ReaderManifest:
    """A reader folder's manifest; ``save`` writes it, ``load`` reads and checks it (kind and version)."""

    VERSIONS: ClassVar[Mapping[str, int]] = {MODEL_KIND: MODEL_VERSION, ONNX_KIND: ONNX_VERSION}

    kind: str
    max_length: int | None = None
    stride: int | None = None
    max_answer_len: int | None = None
    precision: str | None = None
    steps: int | None = None
    base_encoder: str | None = None
    parts: tuple[OnnxPart, ...] = ()
    model_bytes: int | None = None
    model_sha256: str | None = None
    tokenizer_sha256: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in self.VERSIONS:
            raise IndexFormatError(f"not a reader kind: {self.kind!r} (known: {', '.join(self.VERSIONS)})")

    @property
    def version(self) -> int:
        return self.VERSIONS[self.kind]

    def to_json(self) -> dict[str, Any]:
        """The JSON fields (without kind and format_version); typed fields left unset are not written."""
        data: dict[str, Any] = dict(self.extra)
        for name in ("max_length", "stride", "max_answer_len", "precision", "steps", "base_encoder"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.parts:
            data["parts"] = [{"file": p.file, "bytes": p.bytes, "sha256": p.sha256} for p in self.parts]
        if self.model_bytes is not None:
            data["model_bytes"] = self.model_bytes
        if self.model_sha256 is not None:
            data["model_sha256"] = self.model_sha256
        if self.tokenizer_sha256:
            data["tokenizer_sha256"] = dict(self.tokenizer_sha256)
        return data

    def save(self, folder: Path) -> dict[str, Any]:
        """Write ``folder/manifest.json``; returns the JSON object written."""
        return write_manifest(folder, self.kind, self.version, **self.to_json())

    def with_fields(self, **values: Any) -> ReaderManifest:
        """A copy with ``values`` set: typed fields by name (checked as on load), the rest into ``extra``."""
        return ReaderManifest.from_json(self.kind, {**self.to_json(), **values}, "manifest fields")

    @classmethod
    def new(cls, kind: str, **values: Any) -> ReaderManifest:
        """A manifest of ``kind`` from loose fields (typed ones checked, the rest kept as provenance)."""
        return cls.from_json(kind, values, "manifest fields")

    @classmethod
    def from_json(cls, kind: str, data: Mapping[str, Any], where: str) -> ReaderManifest:
        """From a manifest's JSON object (``kind`` and ``format_version`` ignored); IndexFormatError
        naming the field when a typed one has the wrong type."""
        f = Fields({k: v for k, v in data.items() if v is not None}, where)

        def opt_int(key: str) -> int | None:
            return f.integer(key) if f.has(key) else None

        def opt_text(key: str) -> str | None:
            return f.text(key) if f.has(key) else None

        parts = tuple(
            OnnxPart(p.text("file"), p.integer("bytes"), p.text("sha256"))
            for p in (Fields(x, f"{where}.parts") for x in (f.array("parts") if f.has("parts") else []))
        )
        tok = f.sub("tokenizer_sha256") if f.has("tokenizer_sha256") else None
        m = cls(
            kind=kind,
            max_length=opt_int("max_length"),
            stride=opt_int("stride"),
            max_answer_len=opt_int("max_answer_len"),
            precision=opt_text("precision"),
            steps=opt_int("steps"),
            base_encoder=opt_text("base_encoder"),
            parts=parts,
            model_bytes=opt_int("model_bytes"),
            model_sha256=opt_text("model_sha256"),
            tokenizer_sha256={} if tok is None else {k: tok.text(k) for k in tok.data},
        )
        typed = {fl.name for fl in fields(cls)} - {"kind", "extra"}
        extra = {k: v for k, v in data.items() if k not in typed and k not in ("kind", "format_version")}
        # a typed key written as null stays null on a rewrite
        extra.update({k: None for k, v in data.items() if k in typed and v is None})
        return replace(m, extra=extra)

    @classmethod
    def load(cls, folder: Path, kind: str | None = None) -> ReaderManifest:
        """Read and check ``folder/manifest.json``: NotFoundError for a missing folder, IndexFormatError
        for another kind (``kind`` given, or not a reader kind), another version or a malformed field."""
        folder = Path(folder)
        data = read_manifest(folder, kind)
        found = str(data["kind"])
        if found not in cls.VERSIONS:
            raise IndexFormatError(f"{folder} holds a {found!r} folder, not a reader")
        read_manifest(folder, found, cls.VERSIONS[found])  # the version check, with its message
        return cls.from_json(found, data, str(folder / MANIFEST))


def is_reader_folder(folder: Path) -> bool:
    """Whether ``folder`` has a manifest (a reader folder written here, not a Hugging Face checkpoint)."""
    return (Path(folder) / MANIFEST).is_file()
