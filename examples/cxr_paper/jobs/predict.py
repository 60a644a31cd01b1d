"""Run a trained model on X-ray images: a run's model folder, a ``save_pretrained`` folder, a
Hugging Face Hub id or an exported ``.onnx`` file (onnxruntime, no PyTorch model built).

Per image it writes ``<name>.json`` (probability per class, the predicted classes, their boxes as
``xywh`` in the input image's pixels) and ``<name>_<class>.png`` overlays (heatmap, boxes in red).
``<name>`` is the file's stem, with as many parent folders as it takes to tell apart inputs that
share a stem (``pa/IM1.png pb/IM1.png`` -> ``pa__IM1``, ``pb__IM1``), then ``_2``, ``_3`` where a
file would still clash; characters other than letters, digits, ``.``, ``_`` and ``-`` become
``_`` (:func:`cxr_paper.files.file_names.output_names`), so every output stays in ``--out``.
An ``--out`` that already holds files is refused unless ``--overwrite`` (which removes only what
an earlier ``predict.py`` listed there).
A class is predicted above its operating point (chosen on validation, in the model's
``config.json``; the model's ``prob_threshold`` for a class without one) unless
``--prob-threshold`` gives one threshold for all. A model with a fitted temperature also reports
``calibrated_probabilities``. PNG, JPEG and DICOM inputs are read (``cxr14_data.read_image``); an
unreadable file is reported and the others still run. With ``--dicom``, each DICOM input also gets
``<name>_sr.dcm`` (a TID 1500 Structured Report of the findings and boxes) and
``<name>_heatmaps.dcm`` (a fractional Segmentation of the heatmaps), both referencing the source
image (:mod:`cxr_paper.deploy.dicom_out`).
Run it with ``examples/predict.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.special import expit
from torchvision import tv_tensors

from cam_boxes_iobb import overlay
from cxr14_data import paper_transforms, read_image
from cxr_paper.configuration.ranges import FRACTION, check_flags
from cxr_paper.deploy.dicom_common import DicomOutputError, is_dicom
from cxr_paper.deploy.dicom_out import write_dicom_outputs
from cxr_paper.deploy.model_loading import load_model, require
from cxr_paper.deploy.onnx_model import OnnxLocalizer
from cxr_paper.deploy.predicted_boxes import localize
from cxr_paper.deploy.pretrained import CXRLocalizer
from cxr_paper.deploy.probability_calibration import to_logits
from cxr_paper.files.atomic import atomic_write
from cxr_paper.files.file_names import output_names, safe_part
from cxr_paper.files.jsonio import write_json
from cxr_paper.files.manifest import JobKind
from cxr_paper.files.out_folder import claim

Localizer = CXRLocalizer | OnnxLocalizer


def get_args_parser() -> argparse.ArgumentParser:
    """The command line of ``examples/predict.py``.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("images", nargs="+", type=Path, help="PNG, JPEG or DICOM files")
    parser.add_argument(
        "--model",
        required=True,
        help="a run's model folder (runs/demo/multires_resnet10t), a save_pretrained folder, "
        "a Hugging Face Hub id, or an exported .onnx file",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for the JSON files and overlays"
    )
    parser.add_argument(
        "--prob-threshold",
        type=float,
        default=None,
        help="one threshold for every class (default: the model's operating points)",
    )
    parser.add_argument(
        "--heatmap-threshold",
        type=float,
        default=None,
        help="Q: heatmap threshold for boxes (default: the model's)",
    )
    parser.add_argument(
        "--no-pcm",
        action="store_true",
        help="boxes from the raw CAMs instead of the PCM-refined ones",
    )
    parser.add_argument("--device", default="cpu", help="'cpu' or 'cuda'")
    parser.add_argument(
        "--dicom",
        action="store_true",
        help="for DICOM inputs also write a TID 1500 Structured Report and a heatmap Segmentation",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into an --out that already holds files (same-named outputs are replaced)",
    )
    return parser


def predict_image(
    gray: np.ndarray,
    model: Localizer,
    thresholds: dict[str, float],
    heatmap_threshold: float,
    use_pcm: bool = True,
    operating_point: str | None = None,
) -> dict:
    """One image's probabilities, predicted classes, boxes (in its pixels) and heatmaps;
    ``thresholds`` per class (``model.decision_thresholds()``), ``operating_point`` the rule
    that chose them (``None``: given by hand).

    Args:
        gray: Uint8 or uint16 array ``(H, W)``.
        model: The loaded model (PyTorch or ONNX).
        thresholds: Per class, its probability threshold.
        heatmap_threshold: ``Q``.
        use_pcm: Boxes from the PCM-refined maps (else the raw CAMs).
        operating_point: The rule's text, or ``None``.

    Returns:
        JSON-ready ``size``, ``thresholds``, ``probabilities``, ``predicted``, ``boxes`` (and
        ``calibrated_probabilities`` with a temperature), and the float ``heatmaps`` ``(H, W)``
        per predicted class.
    """
    height, width = gray.shape
    mean, std = model.normalization
    transform = paper_transforms(train=False, size=model.image_size, mean=mean, std=std)
    empty = tv_tensors.BoundingBoxes(torch.zeros(0, 4), format="XYWH", canvas_size=(height, width))
    image, _ = transform(tv_tensors.Image(torch.from_numpy(gray)[None]), empty)
    out = model(image[None].to(model.device))
    probs = out.probs[0].float().cpu().numpy()
    maps = (out.refined if use_pcm else out.cams)[0].float().cpu().numpy()
    per_class = [thresholds[c] for c in model.classes]
    boxes, heatmaps = localize(
        maps, probs, (height, width), per_class, heatmap_threshold, classes=model.classes
    )
    result = {
        "size": [height, width],
        "heatmap_source": "pcm" if use_pcm else "cam",
        "thresholds": {
            "probability": dict(thresholds),
            "operating_point": operating_point,
            "heatmap": heatmap_threshold,
        },
        "probabilities": {c: float(p) for c, p in zip(model.classes, probs, strict=True)},
        "predicted": list(boxes),
        "boxes": {name: rows.tolist() for name, rows in boxes.items()},
    }
    if model.temperature != 1.0:
        calibrated = expit(to_logits(probs) / model.temperature)
        result["temperature"] = model.temperature
        result["calibrated_probabilities"] = {
            c: float(p) for c, p in zip(model.classes, calibrated, strict=True)
        }
    return {"result": result, "heatmaps": heatmaps}


def predict_all(
    args: argparse.Namespace,
    model: Localizer,
    thresholds: dict[str, float],
    heatmap_threshold: float,
    operating_point: str | None,
) -> int:
    """Predict every image into ``args.out``; the number that could not be read.

    Args:
        args: The parsed command line.
        model: The loaded model.
        thresholds: Per class, its probability threshold.
        heatmap_threshold: ``Q``.
        operating_point: The rule's text, or ``None``.

    Returns:
        Images that could not be read.
    """
    failures = 0
    tails = [".json", "_sr.dcm", "_heatmaps.dcm", *(f"_{safe_part(c)}.png" for c in model.classes)]
    for path, stem in zip(args.images, output_names(args.images, tails), strict=True):
        try:
            gray = read_image(path)
        except OSError as error:
            failures += 1
            print(f"error: {error}", file=sys.stderr)
            continue
        prediction = predict_image(
            gray, model, thresholds, heatmap_threshold, not args.no_pcm, operating_point
        )
        result = {"image": str(path), **prediction["result"]}
        if args.dicom and is_dicom(path):
            try:
                written = write_dicom_outputs(
                    path, result, prediction["heatmaps"], model, args.out / stem
                )
                result["dicom"] = {kind: file.name for kind, file in written.items()}
            except DicomOutputError as error:
                failures += 1
                print(f"error: {error}", file=sys.stderr)
        for name, heatmap in prediction["heatmaps"].items():
            picture = overlay(gray, heatmap, pred_boxes=result["boxes"][name])
            target = args.out / f"{stem}_{safe_part(name)}.png"
            atomic_write(target, lambda temporary, p=picture: Image.fromarray(p).save(temporary))
        write_json(result, args.out / f"{stem}.json")
        print(f"{path}: {', '.join(result['predicted']) or 'no finding predicted'}")
    return failures


#: Number flags and their ranges (:func:`cxr_paper.configuration.cli.check_flags`).
NUMBER_FLAGS = {"prob_threshold": (FRACTION, False), "heatmap_threshold": (FRACTION, False)}


def main(args: argparse.Namespace) -> int:
    """Predict every image; the exit status: 1 if some image could not be read, else 0.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    check_flags(args, NUMBER_FLAGS)
    if args.dicom:
        require("highdicom", "--dicom")
    model = load_model(args.model, torch.device(args.device))
    if args.prob_threshold is None:
        thresholds = model.decision_thresholds()
        operating_point = (model.operating_points or {}).get("rule")
    else:
        thresholds, operating_point = dict.fromkeys(model.classes, args.prob_threshold), None
    heatmap_threshold = (
        model.heatmap_threshold if args.heatmap_threshold is None else args.heatmap_threshold
    )
    with claim(args.out, resume=False, overwrite=args.overwrite, job=JobKind.PREDICT):
        failures = predict_all(args, model, thresholds, heatmap_threshold, operating_point)
    if failures:
        print(f"{failures} of {len(args.images)} images could not be read.", file=sys.stderr)
    return 1 if failures else 0
