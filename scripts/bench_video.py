"""Benchmark: heavy recognition on retrieved segments only vs. on every sampled frame.

Usage: python scripts/bench_video.py [--videos DIR] [--index DIR] [--out FILE.md]

Ours: ``drqa_ng.video.qa.answer_questions`` (sparse retrieval over subtitles + tiny-CNN tags, then the heavy
recogniser on ``--frames-per-segment`` frames of each of the top ``-k`` segments).
Baseline: decode every sampled frame, run the heavy recogniser on all of them, index segment text
+ the heavy recogniser's tags, retrieve. A text question is right when the top segment's subtitles
contain the expected words; a visual question when the top segment holds a frame where the
baseline's full heavy pass found the asked label. Prints a Markdown table (and writes ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# (question, expected words in the top segment's subtitles, or "label:<tag>" for a visual question)
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("Who is the sailor?", "sinbad"),
    ("Who does Olive call for help?", "popeye"),
    ("Where does Sinbad live?", "island"),
    ("What did he call the big overgrown bird?", "canary"),
    ("What is the biggest buzzard he ever saw?", "buzzard"),
    ("What is shouted when the bird grabs her?", "let me go"),
    ("What does she scream?", "help"),
    ("Whose goose is cooked?", "goose is cooked"),
    ("Show me a face", "label:face"),
    ("Is there a person on screen?", "label:person"),
    ("Where is there text or writing?", "label:text"),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    link: str
    correct: bool
    heavy: int
    decoded: int
    seconds: float


def _correct(
    expect: str, sub_text: str, frame_rows: range, heavy_labels: np.ndarray, tags: tuple[str, ...]
) -> bool:
    if expect.startswith("label:"):
        t = tags.index(expect.split(":", 1)[1])
        return bool(heavy_labels[frame_rows.start : frame_rows.stop, t].any())
    return expect in sub_text.lower()


def pgs_report(videos: list[Path]) -> str:
    """Markdown table: OCR of each video's image subtitle stream vs its sidecar SRT."""
    from drqa_ng.evaluation.metrics import f1_score
    from drqa_ng.video.pgs import ocr_image_subtitles
    from drqa_ng.video.subtitles import find_sidecar, load_subtitles

    lines = [
        "| video | SRT cues | OCR cues | SRT cues matched (start within 0.25 s) | mean token F1 of matched | transcript token F1 | OCR s |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in videos:
        srt_path = find_sidecar(v)
        if srt_path is None:
            continue
        srt = load_subtitles(srt_path)
        t0 = time.perf_counter()
        ocr = ocr_image_subtitles(v)
        dt = time.perf_counter() - t0
        f1s = []
        for c in srt:
            near = [o for o in ocr if abs(o.start - c.start) <= 0.25]
            if near:
                f1s.append(f1_score(near[0].text, [c.text]))
        full = f1_score(" ".join(o.text for o in ocr), [" ".join(c.text for c in srt)])
        mean_f1 = float(np.mean(f1s)) if f1s else 0.0
        lines.append(
            f"| {v.name} | {len(srt)} | {len(ocr)} | {len(f1s)} | {mean_f1:.3f} | {full:.3f} | {dt:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from drqa_ng.config import shared_data_dir
    from drqa_ng.index_io import MANIFEST, StringArray
    from drqa_ng.types import Passage
    from drqa_ng.video.frames import FrameSampler
    from drqa_ng.video.index import VideoIndex
    from drqa_ng.video.qa import answer_questions
    from drqa_ng.video.recognize import default_recognizer, labels_of
    from indexing.sparse import build_sparse_index
    from indexing.video import build_video_index, segment_tag_tokens

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = shared_data_dir()
    ap.add_argument("--videos", type=Path, default=(data / "video" / "popeye") if data else None)
    ap.add_argument("--index", type=Path, help="existing video index (built here when absent)")
    ap.add_argument("--out", type=Path, help="write the Markdown report here")
    ap.add_argument("--json", type=Path, help="write raw figures as JSON here")
    ap.add_argument("-k", type=int, default=3)
    ap.add_argument("--frames-per-segment", type=int, default=2)
    ap.add_argument(
        "--baseline-cache", type=Path, help="reuse/save the baseline's heavy labels and times (.npz)"
    )
    ap.add_argument(
        "--pgs-only", action="store_true", help="only compare OCR of the PGS streams with the SRT files"
    )
    args = ap.parse_args(argv)
    if args.videos is None or not args.videos.is_dir():
        print("video folder not found (set DRQA_NG_DATA or --videos)", file=sys.stderr)
        return 5
    videos = sorted(p for p in args.videos.iterdir() if p.suffix.lower() in (".mkv", ".mp4", ".avi", ".webm"))
    if args.pgs_only:
        report = pgs_report(videos)
        print(report)
        if args.out:
            args.out.write_text(report + "\n")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench_video_"))
    index_dir = args.index or tmp / "index"
    if not (index_dir / MANIFEST).is_file():
        build_video_index(videos, index_dir)
    index = VideoIndex.open(index_dir)
    m = index.manifest
    fps = float(m["params"]["fps"])
    tags = index.tags
    recognizer = default_recognizer()

    # Ours: per question, heavy recognition only on frames of the retrieved segments.
    ours: list[Outcome] = []
    ours_rows: list[int] = []
    for q, _ in QUESTIONS:
        t0 = time.perf_counter()
        (answers,) = answer_questions(
            index, [q], k=args.k, recognizer=recognizer, frames_per_segment=args.frames_per_segment
        )
        dt = time.perf_counter() - t0
        top = answers[0] if answers else None
        ours.append(
            Outcome(
                top.link if top else "-",
                False,
                top.accounting.frames_heavy if top else 0,
                top.accounting.frames_decoded if top else 0,
                dt,
            )
        )
        ours_rows.append(index.segment_row(top.segment_id) if top else -1)

    # Baseline: heavy recogniser on every sampled frame (same sampling as the index).
    n_frames = index.n_frames
    cache = args.baseline_cache
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            heavy_labels = z["labels"]
            base_decode_s, base_heavy_s = float(z["decode_s"]), float(z["heavy_s"])
            decoded = int(z["decoded"])
        if heavy_labels.shape != (n_frames, len(tags)):
            print(f"{cache} does not match this index", file=sys.stderr)
            return 1
        print(f"baseline heavy labels and times read from {cache}", file=sys.stderr)
    else:
        t0 = time.perf_counter()
        frames: list[np.ndarray] = []
        decoded = 0
        for v in index.videos:
            sampler = FrameSampler(Path(v.path), fps=fps, max_side=640)
            frames.extend(fr.image for fr in sampler)
            decoded += sampler.decoded
        base_decode_s = time.perf_counter() - t0
        if len(frames) != n_frames:
            print(f"baseline sampled {len(frames)} frames, the index {n_frames}", file=sys.stderr)
            return 1
        t0 = time.perf_counter()
        dets = []
        for a in range(0, len(frames), 16):
            dets.extend(recognizer.recognize(frames[a : a + 16]))
        base_heavy_s = time.perf_counter() - t0
        heavy_labels = np.stack([labels_of(d, tags) for d in dets])
        if cache is not None:
            np.savez(
                cache, labels=heavy_labels, decode_s=base_decode_s, heavy_s=base_heavy_s, decoded=decoded
            )
    subs = StringArray.open(index_dir, "seg_subs")
    ids = StringArray.open(index_dir, "seg_ids")
    t0 = time.perf_counter()
    texts = []
    for r in range(len(index)):
        f = index.segment_frames(r)
        texts.append(f"{subs[r]} {segment_tag_tokens(heavy_labels[f.start : f.stop], tags, 0.5)}".strip())
    build_sparse_index(
        (Passage(ids[r], "", "", t, 0, len(t), "passage") for r, t in enumerate(texts)),
        tmp / "baseline_sparse",
        unit="passage",
        buckets=2**20,
        show_progress=False,
        include_title=False,
    )
    from drqa_ng.retrieval.sparse import SparseIndex

    base_index = SparseIndex.open(tmp / "baseline_sparse")
    base_hits = base_index.search([q for q, _ in QUESTIONS], args.k)
    base_search_s = time.perf_counter() - t0
    row_of = {ids[r]: r for r in range(len(ids))}

    rng = index.segment_frames

    lines = [
        f"Video benchmark: {len(index.videos)} videos, {n_frames} sampled frames ({fps:g} fps), "
        f"{len(index)} segments, k={args.k}, {args.frames_per_segment} frames/segment, recogniser {recognizer.name}",
        "",
        "| question | expected | ours top-1 | ours ok | baseline top-1 | baseline ok | ours heavy frames | ours decoded | ours s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ok_ours = ok_base = 0
    rows_json = []
    for (q, expect), o, r_ours, hits in zip(QUESTIONS, ours, ours_rows, base_hits, strict=True):
        c_ours = r_ours >= 0 and _correct(expect, subs[r_ours], rng(r_ours), heavy_labels, tags)
        r_base = row_of[hits[0].id] if hits else -1
        c_base = r_base >= 0 and _correct(expect, subs[r_base], rng(r_base), heavy_labels, tags)
        ok_ours += c_ours
        ok_base += c_base
        base_link = ids[r_base] if r_base >= 0 else "-"
        lines.append(
            f"| {q} | {expect} | {o.link} | {'yes' if c_ours else 'no'} | {base_link} | {'yes' if c_base else 'no'} "
            f"| {o.heavy} | {o.decoded} | {o.seconds:.1f} |"
        )
        rows_json.append(
            {
                "question": q,
                "expect": expect,
                "ours": o.link,
                "ours_ok": bool(c_ours),
                "baseline": base_link,
                "baseline_ok": bool(c_base),
                "heavy": o.heavy,
                "decoded": o.decoded,
                "seconds": o.seconds,
            }
        )
    t = m["timings"]
    heavy_per_q = float(np.mean([o.heavy for o in ours]))
    query_s = float(np.mean([o.seconds for o in ours]))
    ours_index_s = float(t["decode_s"] + t["teacher_s"] + t["train_s"] + t["tag_s"] + t["index_s"])
    base_total = base_decode_s + base_heavy_s + base_search_s
    tagger_pred = np.asarray(index.frame_tags, dtype=np.float32) >= index.tag_threshold
    agree = []
    for i, tag in enumerate(tags):
        tp = int((tagger_pred[:, i] & (heavy_labels[:, i] > 0)).sum())
        fp = int((tagger_pred[:, i] & (heavy_labels[:, i] == 0)).sum())
        fn = int((~tagger_pred[:, i] & (heavy_labels[:, i] > 0)).sum())
        agree.append(f"{tag}: heavy+ {int(heavy_labels[:, i].sum())}, tagger tp {tp} fp {fp} fn {fn}")
    lines += [
        "",
        f"- correct at top-1: ours {ok_ours}/{len(QUESTIONS)}, baseline {ok_base}/{len(QUESTIONS)}",
        f"- heavy-recognised frames per question: ours {heavy_per_q:.1f} of {n_frames} "
        f"({100 * heavy_per_q / n_frames:.1f} %); baseline {n_frames} (100 %)",
        f"- index time, ours: decode {t['decode_s']:.1f}s + teacher on {m['counts']['frames_teacher']} frames "
        f"{t['teacher_s']:.1f}s + tagger training {t['train_s']:.1f}s + tiny-CNN tagging of {n_frames} frames "
        f"{t['tag_s']:.1f}s + index {t['index_s']:.1f}s = {ours_index_s:.1f}s",
        f"- baseline: decode {base_decode_s:.1f}s ({decoded} frames) + heavy on {n_frames} frames {base_heavy_s:.1f}s "
        f"+ index/search {base_search_s:.1f}s = {base_total:.1f}s",
        f"- ours per question (retrieve + decode + heavy): {query_s:.1f}s; "
        f"heavy-stage time ratio ours/baseline per question {query_s / base_total:.3f}; "
        f"ours index + {len(QUESTIONS)} questions = {ours_index_s + query_s * len(QUESTIONS):.1f}s vs baseline "
        f"{base_total:.1f}s (ratio {(ours_index_s + query_s * len(QUESTIONS)) / base_total:.2f})",
        "- tiny tagger vs heavy labels on all frames: " + "; ".join(agree),
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": rows_json,
                    "base_total_s": base_total,
                    "ours_index_s": ours_index_s,
                    "query_s": query_s,
                    "heavy_per_q": heavy_per_q,
                    "frames": n_frames,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
