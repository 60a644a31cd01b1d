"""Synthetic sets in the published layouts of CheXpert, MIMIC-CXR-JPG, VinDr-CXR (Kaggle),
RSNA Pneumonia, SIIM-ACR and CheXlocalize (its validation and test images, labels and compressed
RLE segmentations), for trying the pipeline and for tests: the same phantoms and
finding patterns as the NIH-format set, labels and boxes drawn from each set's own statistics
(:mod:`cxr14_data.layouts.synthetic_plan`), written in the set's own files, so that each reader
of :mod:`cxr14_data.layouts` (and ``cam_boxes_iobb``'s box and mask readers) runs on it unchanged.

What differs from the real sets, by design: images are ``image_size`` pixels square (boxes, runs
and DICOM sizes are in that frame, not the real 1024 or 2000-3000 px); a "lateral" image is a
frontal phantom (it is there for the view filter); a MIMIC study holds one image; RSNA's and
SIIM's DICOMs are 8-bit and VinDr's 12-bit in 16, as the real ones, without their other
attributes. DICOM layouts need pydicom (``pip install 'cxr14-data[dicom]'``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from cxr14_data.layouts.chexlocalize import RENAMED
from cxr14_data.layouts.chexpert import CHEXPERT_CLASSES
from cxr14_data.layouts.coco_rle import encode_rle
from cxr14_data.layouts.synthetic_dicom import write_rsna, write_siim, write_vindr
from cxr14_data.layouts.synthetic_files import label_cell, write_csv
from cxr14_data.layouts.synthetic_plan import (
    LAYOUT_CLASSES,
    PlannedImage,
    plan_chexlocalize,
    plan_chexpert,
    plan_single_class,
    plan_vindr,
)
from cxr14_data.synthetic import EXTENT_LEVEL, _extent_box, render_findings

LAYOUTS = tuple(LAYOUT_CLASSES)
CHEXPERT_FOLDER = "CheXpert-v1.0-small"


def _draw(image: PlannedImage, seed: int, size: int, difficulty: str):
    """Pixels ``(size, size)`` uint8, and per painted finding its class, box (pixels) and mask."""
    findings = [(nih, box) for _, nih, box in image.findings]
    pixels, extents = render_findings(
        seed, image.patient, image.follow_up, findings, size, difficulty
    )
    drawn = []
    for (name, _, box), extent in zip(image.findings, extents, strict=True):
        mask = extent > EXTENT_LEVEL
        pixels_box = tuple(float(v * size) for v in box) if box is not None else _extent_box(extent)
        if pixels_box is not None:
            drawn.append((name, pixels_box, mask))
    return pixels, drawn


def _save_jpeg(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=95)


def _chexpert(root: Path, images: list[PlannedImage], test: set[int], render: Callable) -> None:
    folder = root / CHEXPERT_FOLDER
    classes = LAYOUT_CLASSES["chexpert"]
    header = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *classes]
    rows: dict[str, list[list]] = {"train": [], "valid": []}
    for image in images:
        split = "valid" if image.patient in test else "train"
        lateral = image.view == "LATERAL"
        name = f"view{1 + image.follow_up % 2}_{'lateral' if lateral else 'frontal'}.jpg"
        study = f"patient{image.patient:05d}/study{image.follow_up + 1}"
        relative = f"{CHEXPERT_FOLDER}/{split}/{study}/{name}"
        pixels, _ = render(image)
        path = root / relative
        _save_jpeg(path, pixels)
        states = image.states
        if split == "valid":  # three radiologists' consensus: 0 or 1 only
            shown = {n for n, _, _ in image.findings}
            states = {n: float(v == 1.0 or (v == -1.0 and n in shown)) for n, v in states.items()}
        sex = "Female" if image.patient % 2 else "Male"
        view = ["Lateral", ""] if lateral else ["Frontal", image.view]
        row = [
            relative,
            sex,
            20 + image.patient % 70,
            *view,
            *(label_cell(states[c]) for c in classes),
        ]
        rows[split].append(row)
    for split, body in rows.items():
        write_csv(folder / f"{split}.csv", header, body)


def _mimic(root: Path, images: list[PlannedImage], test: set[int], render: Callable) -> None:
    classes = LAYOUT_CLASSES["mimic"]
    metadata, labels, splits = [], [], []
    for number, image in enumerate(images):
        subject, study = 10_000_000 + image.patient, 50_000_000 + number
        dicom_id = f"{number:08x}-{image.patient:08x}-{image.follow_up:04x}"
        split = (
            "test"
            if image.patient in test
            else ("validate" if image.patient % 20 == 0 else "train")
        )
        path = root / f"files/p{str(subject)[:2]}/p{subject}/s{study}/{dicom_id}.jpg"
        pixels, _ = render(image)
        _save_jpeg(path, pixels)
        metadata.append([dicom_id, subject, study, image.view, *pixels.shape])
        labels.append([subject, study, *(label_cell(image.states[c]) for c in classes)])
        splits.append([dicom_id, study, subject, split])
    prefix = root / "mimic-cxr-2.0.0-"
    write_csv(
        Path(f"{prefix}metadata.csv"),
        ["dicom_id", "subject_id", "study_id", "ViewPosition", "Rows", "Columns"],
        metadata,
    )
    write_csv(Path(f"{prefix}chexpert.csv"), ["subject_id", "study_id", *classes], labels)
    write_csv(Path(f"{prefix}split.csv"), ["dicom_id", "study_id", "subject_id", "split"], splits)


def _chexlocalize(root: Path, images: list[PlannedImage], test: set[int], render: Callable) -> None:
    header = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_CLASSES]
    rows: dict[str, list[list]] = {"val": [], "test": []}
    masks: dict[str, dict[str, dict]] = {"val": {}, "test": {}}
    for image in images:
        split = "test" if image.patient in test else "val"
        study = f"patient{image.patient:05d}/study{image.follow_up + 1}"
        relative = f"CheXpert/{split}/{study}/view1_frontal.jpg"
        pixels, drawn = render(image)
        path = root / relative
        _save_jpeg(path, pixels)
        named = {RENAMED.get(c, c): v for c, v in image.states.items()}
        states = [named.get(c, 0.0) for c in CHEXPERT_CLASSES]
        states[0] = float(not any(image.states.values()))  # No Finding
        folder = "CheXpert-v1.0/valid" if split == "val" else "CheXpert-v1.0/test"
        sex = "Female" if image.patient % 2 else "Male"
        row = [f"{folder}/{study}/view1_frontal.jpg", sex, 40, "Frontal", image.view]
        rows[split].append(row + [f"{v:.1f}" for v in states])
        if any(image.states.values()):  # the segmentation files hold positive CXRs only
            union = {c: np.zeros(pixels.shape, bool) for c in LAYOUT_CLASSES["chexlocalize"]}
            for name, _, mask in drawn:
                union[name] |= mask
            cxr_id = f"patient{image.patient:05d}_study{image.follow_up + 1}_view1_frontal"
            masks[split][cxr_id] = {c: encode_rle(m) for c, m in union.items()}
    for split, body in rows.items():
        write_csv(root / "CheXpert" / f"{split}_labels.csv", header, body)
        (root / "CheXlocalize").mkdir(exist_ok=True)
        text = json.dumps(masks[split])
        (root / "CheXlocalize" / f"gt_segmentations_{split}.json").write_text(text)


#: The folders a synthetic set writes, and the file that says this generator wrote them.
WRITTEN = (CHEXPERT_FOLDER, "files", "train", "stage_2_train_images", "dicom-images-train")
WRITTEN += ("CheXpert", "CheXlocalize")
MARKER = ".cxr14-synthetic-layout"


def _clear_earlier_set(root: Path) -> None:
    """Remove the image folders of a set this generator wrote into ``root`` before (its marker
    says so); a folder of those names that it did not write — a real set's ``train/`` — or a
    symbolic link is refused, never deleted."""
    root.mkdir(parents=True, exist_ok=True)
    present = [
        root / name for name in WRITTEN if (root / name).is_symlink() or (root / name).exists()
    ]
    links = [p for p in present if p.is_symlink()]
    if links or (present and not (root / MARKER).is_file()):
        raise ValueError(
            f"{root} holds {[p.name for p in links or present]}, not written by this generator "
            f"(no {MARKER}{' or a symbolic link' if links else ''}): choose an empty folder."
        )
    for folder in present:
        shutil.rmtree(folder)
    (root / MARKER).write_text("written by cxr14_data.layouts.make_synthetic_layout\n")


def make_synthetic_layout(
    root: str | os.PathLike,
    layout: str,
    n_patients: int = 300,
    image_size: int = 128,
    seed: int = 0,
    test_fraction: float = 0.25,
    difficulty: str = "nih",
    progress: bool = True,
) -> Path:
    """Write a synthetic set in ``layout``'s published files into ``root``; return ``root``.

    Args:
        root: output folder (a set this function wrote there before is replaced; folders it
            did not write are refused, never deleted).
        layout: one of :data:`LAYOUTS`.
        n_patients: patients (CheXpert, MIMIC: each with the set's images per patient), or
            images where the set has no patients (VinDr, RSNA, SIIM).
        image_size: side of the square images.
        seed: everything is a function of the seed.
        test_fraction: share of patients in the set's own held-out split (CheXpert's
            ``valid.csv``, MIMIC's ``test``); the Kaggle releases publish none.
        difficulty: how visible the findings are (:data:`cxr14_data.DIFFICULTIES`).
        progress: show a tqdm bar.

    Returns:
        ``root``; for CheXpert the set is in ``root/CheXpert-v1.0-small``.

    Raises:
        ValueError: an unknown layout, a size or count out of range, or ``root`` holding a
            set's folders (``train/``, ``files/``, ...) this function did not write.

    Examples:
        >>> import tempfile
        >>> from cxr14_data.layouts import read_chexpert
        >>> root = make_synthetic_layout(tempfile.mkdtemp(), "chexpert", 4, 32, progress=False)
        >>> table = read_chexpert(root / "CheXpert-v1.0-small")
        >>> table.classes[:2], sorted(set(table.splits)), len(set(table.patients))
        (('No Finding', 'Enlarged Cardiomediastinum'), ['train', 'valid'], 4)
    """
    if layout not in LAYOUTS:
        raise ValueError(f"Expected `layout` one of {LAYOUTS}, got {layout!r}.")
    if not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"Expected `image_size` to be an int >= 32, got {image_size!r}.")
    if n_patients < 2:
        raise ValueError(f"Expected `n_patients` >= 2, got {n_patients!r}.")
    root = Path(root)
    _clear_earlier_set(root)
    rng = np.random.default_rng([seed, 7, LAYOUTS.index(layout)])
    if layout in ("chexpert", "mimic"):
        images = plan_chexpert(layout, n_patients, rng)
    elif layout == "vindr":
        images = plan_vindr(n_patients, rng)
    elif layout == "chexlocalize":
        images = plan_chexlocalize(n_patients, rng)
    else:
        images = plan_single_class(layout, n_patients, rng)
    patients = sorted({i.patient for i in images})
    test = {p for p in patients if rng.random() < test_fraction} or {patients[-1]}
    bar = tqdm(total=len(images), desc=f"synthetic {layout}", unit="img", disable=not progress)

    def render(image: PlannedImage):
        bar.update()
        return _draw(image, seed, image_size, difficulty)

    if layout == "chexpert":
        _chexpert(root, images, test, render)
    elif layout == "mimic":
        _mimic(root, images, test, render)
    elif layout == "vindr":
        write_vindr(root, images, render, rng)
    elif layout == "chexlocalize":
        _chexlocalize(root, images, test, render)
    elif layout == "rsna":
        write_rsna(root, images, render, rng)
    else:
        write_siim(root, images, render)
    bar.close()
    return root
