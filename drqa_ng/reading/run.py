"""A training run's recipe (``RUN/run.json``): what ``train-reader RUN`` needs to start or continue it.

The first call writes ``run.json`` (training files and weights, article lists, dev set, base model,
``TrainConfig``); a later ``train-reader RUN`` with no ``--train`` reads it back and continues the run
from ``RUN/ckpt``. Only bookkeeping settings (threads; how often to log, evaluate and save) may change
between pieces, e.g. ``train-reader RUN --eval-every 50 --threads 2``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from drqa_ng.errors import InputError
from drqa_ng.reading.data import QAExample
from drqa_ng.reading.train import BOOKKEEPING, TrainConfig, TrainSource

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
WARM_START_DIR = "warm-start"


@dataclass(frozen=True, slots=True)
class TrainFile:
    path: str
    weight: float = 1.0


def parse_train_file(spec: str) -> TrainFile:
    """``FILE`` or ``FILE:WEIGHT`` (a trailing ``:number``; any other colon belongs to the path)."""
    path, sep, tail = spec.rpartition(":")
    if sep:
        try:
            weight = float(tail)
        except ValueError:
            return TrainFile(spec)
        if weight < 0:
            raise InputError(f"weight of {path} must be >= 0, got {weight}")
        return TrainFile(path, weight)
    return TrainFile(spec)


@dataclass(frozen=True, slots=True)
class RunSpec:
    train: tuple[TrainFile, ...]
    config: TrainConfig
    base: str | None = None
    dev: str | None = None
    train_articles: str | None = None
    dev_articles: str | None = None
    exclude_titles: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def same_run(self, other: RunSpec) -> bool:
        """Equal but for ``BOOKKEEPING`` settings (threads, how often to log, evaluate and save)."""
        a, b = self.to_json(), other.to_json()
        for d in (a, b):
            d["config"] = {k: v for k, v in d["config"].items() if k not in BOOKKEEPING}
        return a == b

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunSpec:
        known = {f.name for f in fields(TrainConfig)}
        return cls(
            train=tuple(TrainFile(**t) for t in d["train"]),
            config=TrainConfig(**{k: v for k, v in d["config"].items() if k in known}),
            base=d.get("base"),
            dev=d.get("dev"),
            train_articles=d.get("train_articles"),
            dev_articles=d.get("dev_articles"),
            exclude_titles=d.get("exclude_titles"),
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunSpec:
        """The run's spec: from the flags, or from ``OUT_DIR/run.json`` when no ``--train`` is given."""
        stored = Path(args.out_dir) / RUN_FILE
        # bookkeeping flags left unset keep the stored (or default) value
        given = {k: getattr(args, k) for k in BOOKKEEPING if getattr(args, k, None) is not None}
        if not args.train:
            if not stored.is_file():
                raise InputError(f"--train is required to start a run ({stored} does not exist)")
            old = cls.from_json(json.loads(stored.read_text()))
            return replace(old, config=replace(old.config, **given))

        def opt(p: Path | None) -> str | None:
            return str(p) if p is not None else None

        spec = cls(
            train=tuple(parse_train_file(t) for t in args.train),
            config=TrainConfig(
                max_length=args.max_length,
                stride=args.stride,
                batch_size=args.batch_size,
                grad_accum=args.grad_accum,
                lr=args.lr,
                warmup=args.warmup,
                epochs=args.epochs,
                max_steps=args.max_steps,
                dev_limit=args.dev_limit,
                seed=args.seed,
                precision=args.precision,
                hard_weight=args.hard_weight,
                temperature=args.temperature,
                shared_norm=args.shared_norm,
                **given,
            ),
            base=opt(args.base),
            dev=opt(args.dev),
            train_articles=opt(args.train_articles),
            dev_articles=opt(args.dev_articles),
            exclude_titles=opt(args.exclude_titles),
        )
        if stored.is_file():
            old = cls.from_json(json.loads(stored.read_text()))
            if not spec.same_run(old):
                raise InputError(
                    f"{args.out_dir} holds a run with other settings: continue it with "
                    f"`drqa-ng train-reader {args.out_dir}` (no --train), or use a new folder"
                )
            return replace(old, config=replace(old.config, **given))
        return spec


def load_sources(spec: RunSpec) -> tuple[list[TrainSource], list[QAExample]]:
    """The weighted training sources and the dev examples of ``spec``.

    SQuAD JSON train files keep only ``train_articles``; every file drops the dev articles, and
    JSONL files also the ``exclude_titles`` list (SQuAD dev titles, which only the JSON may bring)
    except the listed ``train_articles`` themselves: a teacher-labelled copy of the train articles
    (``label-reader``) is JSONL and keeps them. A source is named after its file (``qed_train`` for
    ``qed_train.jsonl.gz``).
    """
    from drqa_ng.inputs import read_article_list
    from drqa_ng.reading.data import load_examples, spare_titles

    train_titles = read_article_list(Path(spec.train_articles)) if spec.train_articles else None
    dev_titles = read_article_list(Path(spec.dev_articles)) if spec.dev_articles else None
    drop = list(dev_titles or ())
    listed = read_article_list(Path(spec.exclude_titles)) if spec.exclude_titles else set()
    extra = spare_titles(listed, train_titles)
    sources = []
    for tf in spec.train:
        path = Path(tf.path)
        squad = path.name.removesuffix(".gz").endswith(".json")
        ex = load_examples(
            path,
            articles=train_titles if squad else None,
            exclude_titles=drop if squad else [*drop, *extra],
        )
        name = path.name.split(".json")[0]
        if not ex and tf.weight > 0:
            log.warning("training source %s: no examples left after the article filters", path)
        sources.append(TrainSource(name, ex, tf.weight))
    dev = load_examples(Path(spec.dev), articles=dev_titles) if spec.dev else []
    return sources, dev


def resolve_base(spec: RunSpec, out: Path) -> Path:
    """The folder training starts from. An exported ONNX reader folder is dequantised once into
    ``OUT/warm-start/`` (a reader model folder) so its training can continue."""
    from drqa_ng.config import base_encoder_dir
    from drqa_ng.reading.formats import ONNX_KIND
    from drqa_ng.reading.manifest import ReaderManifest, is_reader_folder
    from drqa_ng.reading.model import save_model
    from drqa_ng.reading.onnx_io import model_from_onnx

    base = Path(spec.base) if spec.base else base_encoder_dir()
    if not is_reader_folder(base) or ReaderManifest.load(base).kind != ONNX_KIND:
        return base
    warm = Path(out) / WARM_START_DIR
    if not is_reader_folder(warm):
        m = ReaderManifest.load(base).to_json()
        model = model_from_onnx(base, base_encoder_dir())
        keep = ("base_encoder", "max_length", "stride", "max_answer_len", "steps", "validation_eval")
        save_model(
            model,
            base,
            warm,
            **{k: m[k] for k in keep if k in m},
            warm_start=f"dequantised from the {m.get('precision', '?')} ONNX folder {base}",
        )
    return warm


def prepare_run(
    spec: RunSpec, out: Path, threads: int | None = None
) -> tuple[list[TrainSource], list[QAExample], TrainConfig, Path]:
    """Write ``run.json`` on first use and return (sources, dev, config with ``threads``, base folder)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stored = out / RUN_FILE
    # rewritten each time: bookkeeping settings given to a continued run become its own
    tmp = out / f".{RUN_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(spec.to_json(), indent=2) + "\n")
    tmp.replace(stored)
    sources, dev = load_sources(spec)
    return sources, dev, replace(spec.config, threads=threads), resolve_base(spec, out)


def describe(sources: Sequence[TrainSource]) -> list[dict[str, Any]]:
    """Per-source example counts and weights, for reports."""
    return [{"source": s.name, "examples": len(s.examples), "weight": s.weight} for s in sources]
