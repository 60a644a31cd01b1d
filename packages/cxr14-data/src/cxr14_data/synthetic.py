"""A deterministic synthetic data set in exactly the NIH ChestX-ray14 layout, with NIH's statistics.

No real X-ray can be downloaded everywhere, so this writes chest-like phantoms with the 14
findings drawn as class-specific patterns (see ``_findings``) into the same files a user
downloads from NIH: ``images/*.png`` (or the ``images_0NN/images`` archive layout),
``Data_Entry_2017.csv`` and ``BBox_List_2017.csv`` with the real headers and quirks (split
bracketed headers, trailing empty columns, ``Infiltrate``), ``train_val_list.txt`` and
``test_list.txt`` split by patient. Every reader in this package runs on it unchanged.

What comes from NIH's own files (:mod:`cxr14_data.nih_statistics`):

- **Boxes.** Each of the 8 box findings is painted to fill a box drawn from NIH's boxes of its
  class (a smoothed bootstrap of ``BBox_List_2017.csv``: a random row, its size jittered by
  8 % and its centre by 1.5 % of the frame), so sizes, shapes and places follow NIH's per-class
  distribution in the 1024 frame.
- **Label structure.** Each image's findings are one of NIH's 801 label combinations, tilted
  (:class:`~cxr14_data._label_sets.LabelSetSampler`) so that class shares are
  :data:`SYNTHETIC_PREVALENCE` (NIH's order, compressed so that a few thousand images hold
  every class) and :data:`MULTI_FINDING_SHARE` of the images have several findings, as in NIH.

Patients have 1-8 images (follow-ups share the anatomy); test images carry a box for each of
the 8 box findings they show. About 2 % of the PNGs are RGBA, as in the real set. How hard the
findings are to see is a :class:`Difficulty` (:data:`DIFFICULTIES`: ``"nih"``, the default,
and ``"easy"``, for tests that need separable classes).

As in NIH's files, the PNGs may be saved at any size while ``BBox_List_2017.csv`` gives the
boxes in the 1024 x 1024 frame (:data:`~cxr14_data.boxes.NIH_BOX_FRAME`), and
``OriginalImage[Width, Height]`` holds a DICOM-like size that is neither, so every reader is
exercised on the real conventions rather than on its own assumptions.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from cxr14_data._findings import EXTENT_LEVEL, FINDINGS, Box, sample_box
from cxr14_data._label_sets import LabelSetSampler
from cxr14_data._phantom import follow_up_pose, grid, render_anatomy, sample_anatomy
from cxr14_data.boxes import NIH_BOX_FRAME, check_frame
from cxr14_data.labels import BOX_CLASSES, CLASSES, NO_FINDING

#: Share of images with each finding in the real Data_Entry_2017 (112,120 images).
NIH_PREVALENCE: dict[str, float] = {
    "Atelectasis": 0.103,
    "Cardiomegaly": 0.025,
    "Effusion": 0.119,
    "Infiltration": 0.177,
    "Mass": 0.052,
    "Nodule": 0.056,
    "Pneumonia": 0.013,
    "Pneumothorax": 0.047,
    "Consolidation": 0.042,
    "Edema": 0.021,
    "Emphysema": 0.022,
    "Fibrosis": 0.015,
    "Pleural_Thickening": 0.030,
    "Hernia": 0.002,
}
#: Share of images with each finding in the synthetic set.
SYNTHETIC_PREVALENCE: dict[str, float] = {
    "Atelectasis": 0.12,
    "Cardiomegaly": 0.06,
    "Effusion": 0.13,
    "Infiltration": 0.18,
    "Mass": 0.08,
    "Nodule": 0.09,
    "Pneumonia": 0.045,
    "Pneumothorax": 0.08,
    "Consolidation": 0.07,
    "Edema": 0.05,
    "Emphysema": 0.05,
    "Fibrosis": 0.05,
    "Pleural_Thickening": 0.06,
    "Hernia": 0.025,
}
DATA_ENTRY_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"
)
BBOX_HEADER = "Image Index,Finding Label,Bbox [x,y,w,h],,,"
#: Share of NIH's images with two or more findings (Data_Entry_2017_v2020: 20,796 of 112,120).
MULTI_FINDING_SHARE = 0.185
RGBA_SHARE = 0.02


@dataclass(frozen=True)
class Difficulty:
    """How hard the findings are to see.

    Attributes:
        contrast: factor on every finding's change of the image.
        noise: standard deviation of the pixel noise (grey levels in ``[0, 1]``).
        markings: amplitude of the lung markings (vessel-like texture a finding hides in).
        ribs: amplitude of the rib shadows.
    """

    contrast: float
    noise: float
    markings: float
    ribs: float


#: ``"nih"``: the default, tuned so that the demo's classifiers reach a mean AUROC in the
#: range of NIH's published models; ``"easy"``: high-contrast findings on a quiet background.
DIFFICULTIES: dict[str, Difficulty] = {
    "nih": Difficulty(contrast=0.45, noise=0.035, markings=0.07, ribs=0.14),
    "easy": Difficulty(contrast=1.0, noise=0.018, markings=0.035, ribs=0.10),
}


def _difficulty(value: str | Difficulty) -> Difficulty:
    if isinstance(value, Difficulty):
        return value
    if value not in DIFFICULTIES:
        raise ValueError(f"Expected `difficulty` one of {sorted(DIFFICULTIES)}, got {value!r}.")
    return DIFFICULTIES[value]


@dataclass
class SyntheticImage:
    image_index: str
    patient_id: int
    follow_up: int
    labels: tuple[str, ...]
    age: int
    gender: str
    view: str
    boxes: list[tuple[str, tuple[float, float, float, float]]] = field(default_factory=list)


def _extent_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    rows = np.flatnonzero((mask > EXTENT_LEVEL).any(axis=1))
    cols = np.flatnonzero((mask > EXTENT_LEVEL).any(axis=0))
    if rows.size == 0:
        return None
    return (
        float(cols[0]),
        float(rows[0]),
        float(cols[-1] - cols[0] + 1),
        float(rows[-1] - rows[0] + 1),
    )


def render_findings(
    seed: int,
    patient_id: int,
    follow_up: int,
    findings: Sequence[tuple[str, Box | None]],
    size: int,
    difficulty: str | Difficulty = "nih",
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One synthetic X-ray (uint8 ``(size, size)``) with ``findings`` painted, each an NIH class
    name of :data:`~cxr14_data.labels.CLASSES` and the unit-frame ``xywh`` box its pattern fills
    (``None``: the anatomy places it; box findings need a box), and each finding's extent
    (float ``(size, size)``, ``> EXTENT_LEVEL`` where it shows). A class may repeat (several
    opacities, several components): each repeat draws its own pattern.

    Examples:
        >>> pixels, extents = render_findings(0, 1, 0, [("Mass", (0.2, 0.3, 0.2, 0.2))], 64)
        >>> pixels.shape, pixels.dtype, bool((extents[0][20:32, 13:26] > EXTENT_LEVEL).any())
        ((64, 64), dtype('uint8'), True)
    """
    level = _difficulty(difficulty)

    def stream(purpose: int) -> np.random.Generator:
        # separate streams: the same image with or without a finding differs only by the finding
        return np.random.default_rng([seed, patient_id, follow_up, purpose])

    anatomy = sample_anatomy(np.random.default_rng([seed, patient_id]))
    if follow_up:
        anatomy = follow_up_pose(anatomy, stream(1))
    image, _ = render_anatomy(anatomy, size, markings=level.markings, ribs=level.ribs)
    xx, yy = grid(size)
    extents = []
    for k, (name, box) in enumerate(findings):
        repeat = sum(1 for other, _ in findings[:k] if other == name)
        purpose = 10 + CLASSES.index(name) + 100 * repeat
        extent, change = FINDINGS[name](xx, yy, anatomy, stream(purpose), box)
        image += level.contrast * change.astype(np.float32)
        extents.append(extent)
    image += stream(3).normal(0.0, level.noise, size=image.shape).astype(np.float32)
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8), extents


def render_image(
    seed: int,
    patient_id: int,
    follow_up: int,
    labels: Sequence[str],
    size: int,
    difficulty: str | Difficulty = "nih",
) -> tuple[np.ndarray, dict[str, tuple[float, float, float, float]]]:
    """One synthetic X-ray (uint8 ``(size, size)``) and the ``xywh`` box of each finding, in
    the image's pixels: for the 8 box findings the box drawn from NIH's (which the pattern
    fills), for the others the extent of the pattern."""
    unit_boxes = {
        name: sample_box(
            name, np.random.default_rng([seed, patient_id, follow_up, 30 + CLASSES.index(name)])
        )
        if name in BOX_CLASSES
        else None
        for name in labels
    }
    findings = [(name, unit_boxes[name]) for name in labels]
    pixels, extents = render_findings(seed, patient_id, follow_up, findings, size, difficulty)
    boxes = {}
    for (name, box), extent in zip(findings, extents, strict=True):
        if box is not None:
            boxes[name] = tuple(float(v * size) for v in box)
        elif (found := _extent_box(extent)) is not None:
            boxes[name] = found
    return pixels, boxes


def _plan(
    n_patients: int, seed: int, test_fraction: float
) -> tuple[list[SyntheticImage], set[int]]:
    rng = np.random.default_rng([seed, 0])
    label_sets = LabelSetSampler(SYNTHETIC_PREVALENCE, MULTI_FINDING_SHARE)
    images, test_patients = [], set()
    for patient in range(1, n_patients + 1):
        if rng.random() < test_fraction:
            test_patients.add(patient)
        visits = int(min(1 + rng.poisson(1.5), 8))
        age, gender = int(rng.integers(18, 90)), "MF"[int(rng.integers(2))]
        for follow_up in range(visits):
            labels = label_sets.draw(rng)
            images.append(
                SyntheticImage(
                    f"{patient:08d}_{follow_up:03d}.png",
                    patient,
                    follow_up,
                    labels,
                    min(age + follow_up // 3, 95),
                    gender,
                    "PA" if rng.random() < 0.6 else "AP",
                )
            )
    if n_patients >= 2 and not test_patients:  # both splits hold someone, however small
        test_patients.add(n_patients)
    if n_patients >= 2 and len(test_patients) == n_patients and test_fraction < 1:
        test_patients.discard(1)
    return images, test_patients


def _write_one(job: tuple[SyntheticImage, int, int, str, Difficulty]) -> SyntheticImage:
    record, seed, size, path, difficulty = job
    pixels, boxes = render_image(
        seed, record.patient_id, record.follow_up, record.labels, size, difficulty
    )
    rgba_rng = np.random.default_rng([seed, record.patient_id, record.follow_up, 2])
    picture = Image.fromarray(pixels)
    if rgba_rng.random() < RGBA_SHARE:
        picture = picture.convert("RGBA")
    picture.save(path, compress_level=1)
    record.boxes = [(name, boxes[name]) for name in record.labels if name in boxes]
    return record


def make_synthetic(
    root: str | os.PathLike,
    n_patients: int = 800,
    image_size: int = 256,
    seed: int = 0,
    test_fraction: float = 0.25,
    layout: str = "flat",
    workers: int = 0,
    progress: bool = True,
    box_frame: tuple[int, int] = NIH_BOX_FRAME,
    difficulty: str | Difficulty = "nih",
) -> Path:
    """Write the synthetic set into ``root`` (replacing one already there); return ``root``.

    Args:
        root: output folder.
        n_patients: patients; each has 1-8 images (about 2.5 on average).
        image_size: side of the square PNGs.
        seed: everything is a function of the seed.
        test_fraction: share of patients whose images go to ``test_list.txt``.
        layout: ``"flat"`` (``images/*.png``) or ``"archives"`` (``images_0NN/images/*.png``).
        workers: rendering processes (0: in this process).
        progress: show a tqdm bar.
        box_frame: ``(H, W)`` frame of the CSV's box coordinates; NIH's 1024 x 1024 by
            default, whatever ``image_size`` is (boxes are scaled by ``frame / image_size``).
        difficulty: a name of :data:`DIFFICULTIES` or a :class:`Difficulty`.

    Examples:
        >>> import tempfile
        >>> root = make_synthetic(tempfile.mkdtemp(), n_patients=3, image_size=64, progress=False)
        >>> sorted(p.name for p in root.iterdir())  # doctest: +NORMALIZE_WHITESPACE
        ['BBox_List_2017.csv', 'Data_Entry_2017.csv', 'images', 'test_list.txt',
         'train_val_list.txt']
    """
    if layout not in ("flat", "archives"):
        raise ValueError(f"Expected `layout` 'flat' or 'archives', got {layout!r}.")
    if not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"Expected `image_size` to be an int >= 32, got {image_size!r}.")
    if n_patients < 1:
        raise ValueError(f"Expected `n_patients` >= 1, got {n_patients!r}.")
    check_frame(box_frame)
    level = _difficulty(difficulty)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for old in [*root.glob("images"), *root.glob("images_*"), *root.glob("prepared_*")]:
        shutil.rmtree(old)
    plan, test_patients = _plan(n_patients, seed, test_fraction)
    jobs = []
    for i, record in enumerate(plan):
        folder = root / (
            "images" if layout == "flat" else f"images_{i * 12 // len(plan) + 1:03d}/images"
        )
        folder.mkdir(parents=True, exist_ok=True)
        jobs.append((record, seed, image_size, str(folder / record.image_index), level))
    bar = dict(total=len(jobs), desc="synthetic CXR14", unit="img", disable=not progress)
    if workers > 0:
        with ProcessPoolExecutor(workers) as pool:
            written = list(tqdm(pool.map(_write_one, jobs, chunksize=16), **bar))
    else:
        written = [_write_one(job) for job in tqdm(jobs, **bar)]
    _write_metadata(root, written, test_patients, image_size, box_frame, seed)
    return root


def _dicom_size(seed: int, record: SyntheticImage) -> tuple[int, int]:
    """A DICOM-like ``(width, height)`` for Data_Entry: neither the PNG's size nor the frame."""
    rng = np.random.default_rng([seed, record.patient_id, record.follow_up, 4])
    return int(rng.integers(2000, 3057)), int(rng.integers(2000, 3057))


def _write_metadata(
    root: Path,
    records: list[SyntheticImage],
    test_patients: set[int],
    size: int,
    box_frame: tuple[int, int],
    seed: int,
) -> None:
    with open(root / "Data_Entry_2017.csv", "w", newline="") as handle:
        handle.write(DATA_ENTRY_HEADER + "\n")
        writer = csv.writer(handle, lineterminator="\n")
        for r in records:
            labels = "|".join(r.labels) if r.labels else NO_FINDING
            writer.writerow(
                [
                    r.image_index,
                    labels,
                    r.follow_up,
                    r.patient_id,
                    r.age,
                    r.gender,
                    r.view,
                    *_dicom_size(seed, r),
                    0.143,
                    0.143,
                    "",
                ]
            )
    sy, sx = box_frame[0] / size, box_frame[1] / size
    with open(root / "BBox_List_2017.csv", "w", newline="") as handle:
        handle.write(BBOX_HEADER + "\n")
        writer = csv.writer(handle, lineterminator="\n")
        for r in records:
            if r.patient_id not in test_patients:
                continue
            for name, (x, y, w, h) in r.boxes:
                if name in BOX_CLASSES:
                    label = "Infiltrate" if name == "Infiltration" else name
                    in_frame = (x * sx, y * sy, w * sx, h * sy)
                    writer.writerow([r.image_index, label, *in_frame, "", "", ""])
    test = [r.image_index for r in records if r.patient_id in test_patients]
    train_val = [r.image_index for r in records if r.patient_id not in test_patients]
    (root / "test_list.txt").write_text("".join(f"{n}\n" for n in test))
    (root / "train_val_list.txt").write_text("".join(f"{n}\n" for n in train_val))
