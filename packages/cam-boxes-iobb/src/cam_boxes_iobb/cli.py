"""``python -m cam_boxes_iobb``: score maps against annotations, or convert annotations to COCO.

    python -m cam_boxes_iobb score --maps ours=maps.npz --annotations BBox_List_2017.csv \\
        --format nih --out runs/score
    python -m cam_boxes_iobb score --maps cam=a.npz gradcam=b.npz \\
        --annotations gt_segmentations_val.json --format chexlocalize --out runs/chexlocalize
    python -m cam_boxes_iobb convert --annotations annotations_test.csv --format vindr \\
        --sizes sizes.csv --out vindr_test.json

Errors in the inputs are one line naming the file and what is wrong, with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cam_boxes_iobb.annotations import AnnotationError, Annotations
from cam_boxes_iobb.formats import FORMATS, read_annotations, write_coco
from cam_boxes_iobb.localization import PAPER_THRESHOLDS
from cam_boxes_iobb.maps import MapsError, open_maps
from cam_boxes_iobb.mask_metrics import PXAP_STEP
from cam_boxes_iobb.score_report import build_score, write_score
from cam_boxes_iobb.scoring import ScoreError, ScoreSettings, score_maps


def _add_annotation_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--annotations",
        required=True,
        type=Path,
        help="the annotation file (or the data set's folder for nih/rsna)",
    )
    parser.add_argument(
        "--format",
        default="coco",
        choices=sorted(FORMATS),
        help="how the annotation file is written (each reader's docstring cites its format)",
    )
    parser.add_argument(
        "--sizes", type=Path, help="vindr: CSV image_id,height,width (the CSV has no image sizes)"
    )
    parser.add_argument(
        "--dicom-dir", type=Path, help="vindr: the DICOM folder to read image sizes from"
    )
    parser.add_argument("--readers", nargs="+", help="vindr: keep only these rad_id values")
    parser.add_argument(
        "--data-entry", type=Path, help="nih: Data_Entry_2017.csv for the patient ids"
    )


def _reader_options(args: argparse.Namespace) -> dict[str, Any]:
    options = {
        "sizes": args.sizes,
        "dicom_dir": args.dicom_dir,
        "readers": args.readers,
        "data_entry": args.data_entry,
    }
    given = {k: v for k, v in options.items() if v is not None}
    allowed = {"vindr": {"sizes", "dicom_dir", "readers"}, "nih": {"data_entry"}}.get(
        args.format, set()
    )
    stray = sorted(set(given) - allowed)
    if stray:
        raise AnnotationError(
            f"--{stray[0].replace('_', '-')} does not apply to --format {args.format}."
        )
    return given


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cam_boxes_iobb", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser(
        "score",
        help="score class maps against boxes or masks",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    score.add_argument(
        "--maps",
        nargs="+",
        required=True,
        help="NAME=PATH (or PATH) of a maps .npz or folder; two or more are also compared, "
        "each with the first",
    )
    _add_annotation_args(score)
    score.add_argument("--out", required=True, type=Path, help="folder for score.json and score.md")
    score.add_argument(
        "--overwrite", action="store_true", help="replace the score already in --out"
    )
    score.add_argument(
        "--heatmap-threshold", type=float, default=0.7, help="Q of the paper's protocol"
    )
    score.add_argument(
        "--prob-threshold",
        type=float,
        default=0.5,
        help="boxes only for classes predicted above it (maps with probabilities)",
    )
    score.add_argument(
        "--no-prob-gating",
        action="store_true",
        help="boxes for every class, whatever the probability",
    )
    score.add_argument(
        "--overlap", type=float, default=0.1, choices=PAPER_THRESHOLDS, help="the headline's T"
    )
    score.add_argument(
        "--pointing-tolerance", type=float, default=15.0, help="pixels of the annotation frame"
    )
    score.add_argument(
        "--score-size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="score the box metrics at this size (e.g. a network input), not each image frame",
    )
    score.add_argument(
        "--mask-threshold", default="otsu", help="'otsu' or a number in [0, 1): mIoU's binarisation"
    )
    score.add_argument(
        "--all-mask-pairs",
        action="store_true",
        help="mIoU over CheXlocalize's pairs with true_pos_only=False (eval.py get_ious, at "
        "2a79492): every (image, class) of the annotations, GT-negative ones too (IoU 0 when "
        "the map's segmentation is not empty), and images found only in the maps against "
        "empty masks; a pair whose union is empty is left out",
    )
    score.add_argument(
        "--pxap-step",
        type=float,
        default=PXAP_STEP,
        help="PxAP's bin width (wsolevaluation's evaluate_wsol and config.py default; its "
        "standalone evaluation.py uses 0.01)",
    )
    score.add_argument(
        "--resamples", type=int, default=1000, help="patient bootstrap resamples (0: no intervals)"
    )
    score.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    convert = commands.add_parser(
        "convert", help="write annotations as COCO JSON (the neutral form)"
    )
    _add_annotation_args(convert)
    convert.add_argument("--out", required=True, type=Path, help="the COCO JSON file to write")
    return parser


def _mask_threshold(text: str) -> float | str:
    if text == "otsu":
        return text
    try:
        return float(text)
    except ValueError:
        raise ScoreError(f"--mask-threshold {text!r}: 'otsu' or a number in [0, 1).") from None


def _named_maps(specs: Sequence[str]) -> list[tuple[str, Path]]:
    named = []
    for spec in specs:
        name, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        named.append((name or Path(path).stem, Path(path)))
    names = [n for n, _ in named]
    if len(set(names)) != len(names):
        raise ScoreError(f"--maps names {names} repeat: give NAME=PATH.")
    return named


def settings_from_args(args: argparse.Namespace) -> ScoreSettings:
    """The score's settings from its flags, every value checked (:class:`ScoreError`)."""
    return ScoreSettings(
        heatmap_threshold=args.heatmap_threshold,
        prob_threshold=None if args.no_prob_gating else args.prob_threshold,
        headline_overlap=args.overlap,
        pointing_tolerance=args.pointing_tolerance,
        score_size=tuple(args.score_size) if args.score_size else None,
        mask_threshold=_mask_threshold(args.mask_threshold),
        true_positives_only=not args.all_mask_pairs,
        pxap_step=args.pxap_step,
        resamples=args.resamples,
        seed=args.seed,
    )


def run_score(args: argparse.Namespace) -> Path:
    settings = settings_from_args(args)
    if args.out.exists() and not args.out.is_dir():
        raise ScoreError(f"--out {args.out} is a file, not a folder.")
    if (args.out / "score.json").exists() and not args.overwrite:
        raise ScoreError(
            f"{args.out} already holds a score.json: choose another --out or --overwrite."
        )
    annotations = read_annotations(args.annotations, args.format, **_reader_options(args))
    scores = []
    for name, path in _named_maps(args.maps):
        maps = open_maps(path)
        scores.append(
            score_maps(maps, annotations, settings, name, progress=_progress(name, len(maps)))
        )
    json_path, md_path = write_score(
        build_score(scores, annotations, settings, args.format), args.out
    )
    print(f"Wrote {json_path} and {md_path}")
    return json_path


def _progress(name: str, total: int):
    def wrap(items):
        try:
            from tqdm.auto import tqdm
        except ModuleNotFoundError:
            return items
        return tqdm(items, total=total, desc=f"scoring {name}", unit="image", leave=False)

    return wrap


def run_convert(args: argparse.Namespace) -> Path:
    annotations: Annotations = read_annotations(
        args.annotations, args.format, **_reader_options(args)
    )
    path = write_coco(annotations, args.out)
    print(f"Wrote {path}: {len(annotations)} images, classes {list(annotations.localized_classes)}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        (run_score if args.command == "score" else run_convert)(args)
    except (AnnotationError, MapsError, ScoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. --out names a file, or a folder without write permission
        print(f"error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0
