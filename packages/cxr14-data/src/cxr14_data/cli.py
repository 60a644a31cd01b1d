"""``python -m cxr14_data {synth,prepare,stats} ROOT``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from cxr14_data.prepared import prepare
from cxr14_data.stats import dataset_stats, format_stats
from cxr14_data.synthetic import make_synthetic


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

    prep = commands.add_parser("prepare", help="resize every image once into a uint8 store")
    prep.add_argument("root", help="data-set folder (NIH layout)")
    prep.add_argument("--size", type=int, default=256, help="side of the stored images")
    prep.add_argument("--workers", type=int, default=0, help="decoding processes")

    stats = commands.add_parser("stats", help="counts per class and split, patients, boxes")
    stats.add_argument("root", help="data-set folder (NIH layout)")
    stats.add_argument(
        "--no-finding", type=int, default=5000, help="No-Finding images in train+val"
    )
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if args.command == "synth":
        root = make_synthetic(
            args.root,
            args.patients,
            args.size,
            args.seed,
            args.test_fraction,
            args.layout,
            args.workers,
        )
        print(f"synthetic ChestX-ray14 written to {root}")
    elif args.command == "prepare":
        print(f"prepared store written to {prepare(args.root, args.size, workers=args.workers)}")
    else:
        result = dataset_stats(args.root, no_finding=args.no_finding)
        print(json.dumps(result, indent=2) if args.json else format_stats(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
