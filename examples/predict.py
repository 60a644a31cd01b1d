"""Run a trained model (a ``final.pt`` from reproduce_paper.py) on X-ray images.

    python examples/predict.py scan1.png scan2.dcm \\
        --checkpoint runs/demo/multires_resnet10t/final.pt --out preds

Per image it writes ``<name>.json`` (probability per class, the predicted classes, their boxes as
``xywh`` in the input image's pixels) and ``<name>_<class>.png`` overlays (heatmap, boxes in red).
PNG, JPEG and DICOM inputs are read; an unreadable file is reported and the others still run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors

from cam_boxes_iobb import overlay
from cxr14_data import (
    CLASSES,
    ImageDecodeError,
    decode_gray,
    paper_transforms,
)
from cxr_paper.errors import RunError, run_main
from cxr_paper.final import FinalCheckpoint, load_final
from cxr_paper.jsonio import write_json
from cxr_paper.localize import localize
from multires_backbone import CAMClassifier
from pcm_seam import PCM, refine


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("images", nargs="+", type=Path, help="PNG, JPEG or DICOM files")
    parser.add_argument(
        "--checkpoint", type=Path, required=True, help="a final.pt written by reproduce_paper.py"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for the JSON files and overlays"
    )
    parser.add_argument(
        "--prob-threshold",
        type=float,
        default=0.5,
        help="a class is predicted above this probability",
    )
    parser.add_argument(
        "--heatmap-threshold", type=float, default=0.7, help="Q: heatmap threshold for boxes"
    )
    parser.add_argument(
        "--no-pcm",
        action="store_true",
        help="boxes from the raw CAMs instead of the PCM-refined ones",
    )
    parser.add_argument("--device", default="cpu", help="'cpu' or 'cuda'")
    return parser


def read_dicom(path: Path) -> np.ndarray:
    """A DICOM image as uint8 gray: modality and VOI LUTs applied, MONOCHROME1 inverted."""
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    dataset = pydicom.dcmread(path)
    pixels = apply_voi_lut(apply_modality_lut(dataset.pixel_array, dataset), dataset).astype(
        np.float64
    )
    if pixels.ndim == 3:
        pixels = pixels.mean(axis=-1)
    if dataset.get("PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
        pixels = pixels.max() - pixels
    low, high = pixels.min(), pixels.max()
    scaled = (pixels - low) / (high - low) if high > low else np.zeros_like(pixels)
    return np.rint(scaled * 255).astype(np.uint8)


def is_dicom(path: Path) -> bool:
    if path.suffix.lower() in (".dcm", ".dicom"):
        return True
    with open(path, "rb") as handle:
        return handle.read(132)[128:132] == b"DICM"


def read_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if is_dicom(path):
        try:
            return read_dicom(path)
        except Exception as error:
            raise ImageDecodeError(f"{path}: cannot read DICOM ({error})") from error
    return decode_gray(path)


def load_checkpoint(path: Path, device: torch.device) -> tuple[CAMClassifier, PCM, FinalCheckpoint]:
    final = load_final(path, device)
    if list(final.classes) != list(CLASSES):
        raise RunError(f"{path} was trained on classes {final.classes}, not the 14 of CXR14.")
    model, pcm = final.build(device)
    return model, pcm, final


@torch.no_grad()
def predict_image(
    gray: np.ndarray, model: CAMClassifier, pcm: PCM, state: FinalCheckpoint, args
) -> dict:
    height, width = gray.shape
    mean, std = state.normalization
    transform = paper_transforms(train=False, size=state.image_size, mean=mean, std=std)
    empty = tv_tensors.BoundingBoxes(torch.zeros(0, 4), format="XYWH", canvas_size=(height, width))
    image, _ = transform(tv_tensors.Image(torch.from_numpy(gray)[None]), empty)
    batch = image[None].to(args.device)
    out = model(batch)
    probs = torch.sigmoid(out.logits)[0].cpu().numpy()
    maps = out.cams if args.no_pcm else refine(pcm, out.features, out.cams, batch)
    maps = maps[0].float().cpu().numpy()
    result = {
        "size": [height, width],
        "heatmap_source": "cam" if args.no_pcm else "pcm",
        "probabilities": {c: float(p) for c, p in zip(state.classes, probs, strict=True)},
        "predicted": [],
        "boxes": {},
    }
    boxes, heatmaps = localize(
        maps,
        probs,
        (height, width),
        args.prob_threshold,
        args.heatmap_threshold,
        classes=state.classes,
    )
    result["predicted"] = list(boxes)
    result["boxes"] = {name: rows.tolist() for name, rows in boxes.items()}
    return {"result": result, "heatmaps": heatmaps}


def main(args: argparse.Namespace) -> int:
    device = torch.device(args.device)
    args.device = device
    model, pcm, state = load_checkpoint(args.checkpoint, device)
    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for path in args.images:
        try:
            gray = read_image(path)
        except (OSError, ValueError) as error:
            failures += 1
            print(f"error: {error}", file=sys.stderr)
            continue
        prediction = predict_image(gray, model, pcm, state, args)
        result = {"image": str(path), **prediction["result"]}
        write_json(result, args.out / f"{path.stem}.json")
        for name, heatmap in prediction["heatmaps"].items():
            picture = overlay(gray, heatmap, pred_boxes=result["boxes"][name])
            Image.fromarray(picture).save(args.out / f"{path.stem}_{name}.png")
        print(f"{path}: {', '.join(result['predicted']) or 'no finding predicted'}")
    if failures:
        print(f"{failures} of {len(args.images)} images could not be read.", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run_main(lambda: main(get_args_parser().parse_args())))
