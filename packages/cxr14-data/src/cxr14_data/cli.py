"""``python -m cxr14_data {synth,prepare,stats} ROOT``.

Errors in the data (a missing file, a bad metadata row, an unreadable image) print one line
naming the file and exit with status 2; the JSON output is strict (NaN and infinities as null).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from cxr14_data.labels import UnknownLabelError
from cxr14_data.metadata import MetadataError
from cxr14_data.prepared import prepare
from cxr14_data.stats import dataset_stats, format_stats
from cxr14_data.synthetic import DIFFICULTIES, make_synthetic


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cxr14_data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="write the synthetic NIH-format data set")
    synth.add_argument("root", help="output folder")
    synth.add_argument("--patients", type=int, default=800, help="patients (about 2.5 images each)")
    synth.add_argument("--size", type=int, default=256, help="image side in pixels")
    synth.add_argument("--seed", type=int, default=0, help="everything is a function of the seed")
    synth.add_argument("--test-fraction", type=float, default=0.25, help="share of test patients")
    synth.add_argument(
        "--layout",
        choices=("flat", "archives"),
        default="flat",
        help="images/*.png, or images_0NN/images/*.png as the NIH archives unpack",
    )
    synth.add_argument("--workers", type=int, default=0, help="rendering processes")
    synth.add_argument(
        "--difficulty",
        choices=sorted(DIFFICULTIES),
        default="nih",
        help="how hard the findings are to see: 'nih' (NIH-like AUROC) or 'easy'",
    )

    prep = commands.add_parser("prepare", help="resize every image once into a uint8 store")
    prep.add_argument("root", help="data-set folder (NIH layout)")
    prep.add_argument("--size", type=int, default=256, help="side of the stored images")
    prep.add_argument("--workers", type=int, default=0, help="decoding processes")
    prep.add_argument(
        "--cache",
        default=None,
        help="write the store here instead of inside ROOT (for read-only data mounts)",
    )

    stats = commands.add_parser("stats", help="counts per class and split, patients, boxes")
    stats.add_argument("root", help="data-set folder (NIH layout)")
    stats.add_argument(
        "--no-finding", type=int, default=5000, help="No-Finding images in train+val"
    )
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument(
        "--verify",
        action="store_true",
        help="decode every listed image and list the unreadable ones (before a long run)",
    )
    stats.add_argument("--workers", type=int, default=None, help="decoding processes for --verify")
    stats.add_argument(
        "--box-frame",
        type=int,
        nargs=2,
        default=[1024, 1024],
        metavar=("H", "W"),
        help="frame of BBox_List's coordinates (NIH: 1024 1024 whatever the PNG size)",
    )
    return parser


def strict_json(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by ``None`` (RFC 8259 has neither).

    Examples:
        >>> strict_json({"a": [1.0, float("nan")], "b": float("inf")})
        {'a': [1.0, None], 'b': None}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        return _run(args)
    except (MetadataError, UnknownLabelError, OSError, ValueError) as error:
        print(f"python -m cxr14_data {args.command}: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "synth":
        root = make_synthetic(
            args.root,
            args.patients,
            args.size,
            args.seed,
            args.test_fraction,
            args.layout,
            args.workers,
            difficulty=args.difficulty,
        )
        print(f"synthetic ChestX-ray14 written to {root}")
    elif args.command == "prepare":
        folder = prepare(args.root, args.size, workers=args.workers, cache=args.cache)
        print(f"prepared store written to {folder}")
    else:
        result = dataset_stats(
            args.root,
            no_finding=args.no_finding,
            box_frame=tuple(args.box_frame),
            verify=args.verify,
            workers=args.workers,
            progress=args.verify,
        )
        if args.json:
            print(json.dumps(strict_json(result), indent=2, allow_nan=False))
        else:
            print(format_stats(result))
        if result.get("unreadable"):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
