"""`drqa-ng search-tagger`: find the frame tagger by architecture search under a latency budget.

A few lines over ``indexing.tagger_search.run_search`` (search -> discretise -> retrain -> export).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _search_tagger(args: argparse.Namespace) -> int:
    from drqa_ng.errors import InputError
    from indexing.tagger_search import SearchOptions, run_search

    if args.budget_minutes <= 0:
        raise InputError(f"--budget-minutes must be > 0, got {args.budget_minutes}")
    opts = SearchOptions(
        lambdas=tuple(args.lambdas),
        search_epochs=args.search_epochs,
        epochs=args.epochs,
        budget_s=60.0 * args.budget_minutes,
        fps=args.fps,
        min_frames=args.min_frames,
        val_every=args.val_every,
        seed=args.seed,
        seeds=args.seeds,
    )
    r = run_search(args.videos, args.out, opts)
    hand, delta = r["hand"], r["delta"]
    assert isinstance(hand, dict) and isinstance(delta, dict)
    verdict = "beats" if r["chosen_beats_hand"] else "does not beat"
    print(
        f"wrote {args.out}: chosen {r['chosen']} {verdict} the hand-designed tagger "
        f"(macro F1 {delta['macro_f1_points']:+.1f} points, {delta['speedup']:.2f}x frames/s); "
        f"report {args.out / 'report.json'}, {args.out / 'report.png'}"
    )
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``search-tagger``."""
    p = sub.add_parser(
        "search-tagger",
        help="find the frame tagger by differentiable architecture search under a latency budget",
        description=(
            "Sample and label frames of VIDEOs with the heavy recogniser, split them by video into train and "
            "validation, run a DARTS-style search over ShuffleNet units with a measured latency term (one "
            "search per latency weight), retrain each found net and the hand-designed tagger the same way, "
            "and write OUT/tagger.safetensors (the chosen one), OUT/report.json and OUT/report.png."
        ),
    )
    p.add_argument("videos", type=Path, nargs="+", metavar="VIDEO")
    p.add_argument("out", type=Path, metavar="OUT", help="output folder")
    p.add_argument(
        "--lambdas", type=float, nargs="+", default=[0.1, 1.0, 5.0], help="latency weights, one search each"
    )
    p.add_argument("--search-epochs", type=int, default=20, help="supernet epochs per search (default 20)")
    p.add_argument("--seeds", type=int, default=2, help="retraining seeds per net, F1 averaged (default 2)")
    p.add_argument("--epochs", type=int, default=30, help="retraining epochs per candidate (default 30)")
    p.add_argument(
        "--budget-minutes", type=float, default=60.0, help="CPU minutes for the whole run (default 60)"
    )
    p.add_argument("--fps", type=float, default=1.0, help="frames sampled per second of video (default 1)")
    p.add_argument(
        "--min-frames", type=int, default=20, help="sample short clips faster, to this many frames"
    )
    p.add_argument(
        "--val-every", type=int, default=3, help="every N-th video (sorted as given) is validation"
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_search_tagger)
