"""`drqa-ng build-video`, `train-tagger`, `video-ask`: index videos by subtitles + frame tags, ask about them."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from drqa_ng.request import DEFAULT_VIDEO_K

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands to the parser."""
    p = sub.add_parser(
        "build-video",
        help="index videos: subtitle segments, tiny-CNN frame tags, sparse index",
        description=(
            "Cut videos into subtitle-aligned segments (sidecar .srt/.vtt with the same stem, or an embedded "
            "text subtitle stream), sample frames at --fps, tag them with a tiny CNN (distilled from the heavy "
            "recogniser on a sample of frames unless --tagger is given) and index segment text + tags. "
            "Writes OUT_DIR atomically."
        ),
    )
    p.add_argument("videos", type=Path, nargs="+", metavar="VIDEO", help="video files (decoded with PyAV)")
    p.add_argument("out", type=Path, metavar="OUT_DIR", help="index folder to write (replaced if present)")
    _sampling_args(p)
    p.add_argument("--min-seg", type=float, default=10.0, help="shortest segment in seconds (default: 10)")
    p.add_argument("--max-seg", type=float, default=30.0, help="longest segment in seconds (default: 30)")
    p.add_argument(
        "--overlap", type=float, default=2.0, help="seconds shared by neighbouring segments (default: 2)"
    )
    p.add_argument(
        "--tagger",
        help="tagger weights (.safetensors) from `train-tagger`, or 'shipped' for the packaged one; default: distil one",
    )
    p.add_argument(
        "--tag-threshold", type=float, default=0.5, help="tag probability that adds a tag (default: 0.5)"
    )
    p.add_argument(
        "--no-subtitle-ocr", action="store_true", help="do not OCR image-based (PGS/DVD) subtitle streams"
    )
    p.set_defaults(func=_build_video)

    t = sub.add_parser(
        "train-tagger",
        help="distil the tiny frame tagger from the heavy recogniser",
        description=(
            "Sample frames of VIDEOs, label a fraction with the heavy recogniser (Haar faces/people + Tesseract "
            "text) and train the ShuffleNet-style tagger on those labels (BCE). Writes OUT.safetensors."
        ),
    )
    t.add_argument("videos", type=Path, nargs="+", metavar="VIDEO")
    t.add_argument("out", type=Path, metavar="OUT.safetensors")
    _sampling_args(t)
    t.set_defaults(func=_train_tagger)

    a = sub.add_parser(
        "video-ask",
        help="answer questions over a video index (timestamps, subtitles, what is seen)",
        description=(
            "Retrieve the best segments, run the heavy recogniser only on a few frames of them, optionally read "
            "an answer span, and print timestamp links with the work done."
        ),
    )
    a.add_argument("questions", nargs="+", metavar="QUESTION", help="quote each question")
    a.add_argument("--video-index", type=Path, required=True, metavar="DIR", help="folder from `build-video`")
    a.add_argument(
        "-k",
        type=int,
        default=DEFAULT_VIDEO_K,
        help=f"segments per question (default: {DEFAULT_VIDEO_K}; each is one answer, its frames recognised)",
    )
    a.add_argument(
        "--frames-per-segment", type=int, default=2, help="frames recognised per segment (default: 2)"
    )
    a.add_argument("--no-recognize", action="store_true", help="skip the heavy recogniser")
    a.add_argument(
        "--reader", type=Path, help="reader model folder (default: the shipped reader, if installed)"
    )
    a.add_argument("--no-reader", action="store_true", help="do not run the reader")
    a.add_argument("--json", action="store_true", help="print one JSON object per question")
    a.set_defaults(func=_video_ask)


def _sampling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fps", type=float, default=1.0, help="frames sampled per second (default: 1)")
    p.add_argument(
        "--label-fraction",
        type=float,
        default=0.15,
        help="share of sampled frames the teacher labels (default: 0.15)",
    )
    p.add_argument("--epochs", type=int, default=30, help="tagger training epochs (default: 30)")


def _build_video(args: argparse.Namespace) -> int:
    from drqa_ng.video.tagger import load_tagger, shipped_tagger_path
    from indexing.video import build_video_index

    tagger = None
    if args.tagger is not None:
        tagger = load_tagger(shipped_tagger_path() if args.tagger == "shipped" else Path(args.tagger))
    r = build_video_index(
        args.videos,
        args.out,
        fps=args.fps,
        min_seg=args.min_seg,
        max_seg=args.max_seg,
        overlap=args.overlap,
        tagger=tagger,
        label_fraction=args.label_fraction,
        tag_threshold=args.tag_threshold,
        epochs=args.epochs,
        ocr_subtitles=not args.no_subtitle_ocr,
    )
    print(f"built video index {r.path}: {r.videos} videos, {r.segments} segments")
    print(
        f"frames: decoded {r.frames_decoded}, sampled {r.frames_sampled}, tagged by tiny CNN {r.frames_tagged}, "
        f"labelled by heavy recogniser {r.frames_teacher}"
    )
    print(
        f"time: decode {r.decode_s:.1f}s, teacher {r.teacher_s:.1f}s, train {r.train_s:.1f}s, "
        f"tag {r.tag_s:.1f}s, index {r.index_s:.1f}s, total {r.total_s:.1f}s"
    )
    return 0


def _train_tagger(args: argparse.Namespace) -> int:
    from drqa_ng.video.tagger import save_tagger
    from indexing.video_tagger import distil_tagger

    model, r = distil_tagger(
        args.videos, fps=args.fps, label_fraction=args.label_fraction, epochs=args.epochs
    )
    save_tagger(model, args.out)
    print(
        f"wrote {args.out}: {r.frames_teacher} of {r.frames_sampled} sampled frames labelled "
        f"(positives per tag {dict(zip(model.config.tags, r.positives, strict=True))}); "
        f"teacher {r.teacher_s:.1f}s, train {r.train_s:.1f}s"
    )
    return 0


def _load_reader(reader_dir: Path | None, use_reader: bool) -> Any:
    if not use_reader:
        return None
    from drqa_ng.errors import DrqaError

    try:
        from drqa_ng.reading.reader import load_reader
    except ImportError:
        log.warning("no reader in this build; answering with segments only")
        return None
    if reader_dir is not None:
        return load_reader(reader_dir)
    try:
        return load_reader()
    except DrqaError as e:  # the shipped weights are optional
        log.warning("shipped reader unavailable (%s); answering with segments only", e)
        return None


def _video_ask(args: argparse.Namespace) -> int:
    from drqa_ng.cli.options import check_quoted

    check_quoted(args.questions)
    return video_ask(
        args.questions,
        index_dir=args.video_index,
        k=args.k,
        frames_per_segment=args.frames_per_segment,
        recognize=not args.no_recognize,
        reader_dir=args.reader,
        use_reader=not args.no_reader,
        as_json=args.json,
    )


def video_ask(
    questions: list[str],
    *,
    index_dir: Path,
    k: int = DEFAULT_VIDEO_K,
    frames_per_segment: int = 2,
    recognize: bool = True,
    reader_dir: Path | None = None,
    use_reader: bool = True,
    as_json: bool = False,
) -> int:
    """Answer questions over a video index and print them (shared by ``video-ask`` and ``ask --video-index``)."""
    from drqa_ng.presentation import video_result_dict
    from drqa_ng.video.index import VideoIndex
    from drqa_ng.video.qa import answer_questions, check_ask
    from drqa_ng.video.recognize import default_recognizer

    questions = check_ask(questions, k, frames_per_segment)  # before the index and models load
    index = VideoIndex.open(index_dir)
    recognizer = default_recognizer() if recognize else None
    reader = _load_reader(reader_dir, use_reader)
    results = answer_questions(
        index,
        questions,
        k=k,
        recognizer=recognizer,
        reader=reader,
        frames_per_segment=frames_per_segment,
    )
    for q, answers in zip(questions, results, strict=True):
        if as_json:
            obj = video_result_dict(q, answers)
            for a, d in zip(answers, obj["answers"], strict=True):
                d["video_path"] = a.video_path  # the local file the link names (not sent over HTTP)
            print(json.dumps(obj, ensure_ascii=False, default=str))
            continue
        print(f"Q: {q}")
        for i, a in enumerate(answers, 1):
            print(f"{i}. {a.link}  score {a.score:.3f}  [{a.segment_id}]")
            if a.span is not None:
                print(f"   answer: {a.span.text!r} (reader {a.span.reader_score:.2f})")
            print(f"   said: {a.text or '(no subtitles)'}")
            if a.tags:
                print(f"   tags: {' '.join(a.tags)}")
            for f in a.findings:
                seen = ", ".join(
                    f"{d.label}{' ' + repr(d.text) if d.text else ''} ({d.score:.2f})" for d in f.detections
                )
                print(f"   seen at {f.t:.1f}s: {seen or 'nothing'}")
        if answers:
            c = answers[0].accounting
            print(
                f"   work: frames decoded {c.frames_decoded}, heavy {c.frames_heavy} "
                f"(index: sampled {c.index_frames_sampled}, tiny-CNN tagged {c.index_frames_tagged}, "
                f"teacher {c.index_frames_teacher}); time retrieve {c.retrieve_s:.3f}s, decode {c.decode_s:.2f}s, "
                f"recognise {c.recognize_s:.2f}s, read {c.read_s:.2f}s"
            )
        else:
            print("   no segment matched")
    return 0
