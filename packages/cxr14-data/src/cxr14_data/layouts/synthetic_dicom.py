"""The synthetic sets whose images are DICOM — VinDr-CXR (Kaggle), RSNA Pneumonia, SIIM-ACR —
written in their own files (:func:`cxr14_data.layouts.make_synthetic_layout` calls these)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from cxr14_data.layouts.synthetic_files import write_csv
from cxr14_data.layouts.synthetic_plan import LAYOUT_CLASSES, PlannedImage
from cxr14_data.reading import INSTALL_DICOM

SIIM_UID = "1.2.276.0.7230010.3.1.4.8323329"


def _write_dicom(path: Path, pixels: np.ndarray, bits: int, **elements: object) -> None:
    try:
        from pydicom.dataset import Dataset, FileMetaDataset
        from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid
    except ImportError:
        raise ImportError(f"DICOM layouts need pydicom: {INSTALL_DICOM}.") from None
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(path.name)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    allocated = 8 if bits == 8 else 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = (
        allocated,
        bits,
        bits - 1,
        0,
    )
    for key, value in elements.items():
        setattr(ds, key, value)
    scaled = pixels.astype(np.uint16) * ((1 << bits) - 1) // 255
    ds.PixelData = scaled.astype(np.uint8 if allocated == 8 else np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _relative_runs(mask: np.ndarray) -> str:
    """SIIM-ACR's first-stage encoding: column-major runs, each start relative to the end of
    the run before (the competition's ``mask2rle``)."""
    flat = np.concatenate([[0], mask.T.reshape(-1).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(flat))
    starts, ends = edges[0::2], edges[1::2]
    previous = np.concatenate([[0], ends[:-1]])
    return " ".join(f"{s - p} {e - s}" for s, e, p in zip(starts, ends, previous, strict=True))


def write_vindr(
    root: Path, images: list[PlannedImage], render: Callable, rng: np.random.Generator
) -> None:
    classes = LAYOUT_CLASSES["vindr"]
    rows = []
    for image in images:
        image_id = f"{int(rng.integers(1 << 62)):032x}"
        pixels, drawn = render(image)
        _write_dicom(root / "train" / f"{image_id}.dicom", pixels, 12, PatientID=image_id)
        boxes = {name: box for name, box, _ in drawn}
        for reader, marked in image.readers.items():
            for name in marked or ["No finding"]:
                if name == "No finding":
                    rows.append([image_id, name, classes.index(name), reader, "", "", "", ""])
                    continue
                side = pixels.shape[0]
                box = boxes.get(name)
                if box is None:  # one reader's finding the others did not see: nothing painted
                    w, h = rng.uniform(0.1, 0.3, 2) * side
                    box = (*rng.uniform(0, 1, 2) * (side - np.array([w, h])), w, h)
                x, y, w, h = (v + rng.normal(0, 0.02 * side) for v in box)
                x0, y0 = max(0.0, x), max(0.0, y)
                x1, y1 = (
                    min(float(pixels.shape[1]), x + max(w, 2)),
                    min(float(pixels.shape[0]), y + max(h, 2)),
                )
                rows.append(
                    [
                        image_id,
                        name,
                        classes.index(name),
                        reader,
                        *(f"{v:.1f}" for v in (x0, y0, x1, y1)),
                    ]
                )
    header = ["image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max"]
    write_csv(root / "train.csv", header, rows)


def write_rsna(
    root: Path, images: list[PlannedImage], render: Callable, rng: np.random.Generator
) -> None:
    rows = []
    for image in images:
        patient_id = "-".join(f"{int(rng.integers(1 << 32)):08x}" for _ in range(2))
        pixels, drawn = render(image)
        _write_dicom(
            root / "stage_2_train_images" / f"{patient_id}.dcm",
            pixels,
            8,
            PatientID=patient_id,
            ViewPosition=image.view,
        )
        if not drawn:
            rows.append([patient_id, "", "", "", "", 0])
        rows += [[patient_id, *(f"{v:.1f}" for v in box), 1] for _, box, _ in drawn]
    write_csv(
        root / "stage_2_train_labels.csv",
        ["patientId", "x", "y", "width", "height", "Target"],
        rows,
    )


def write_siim(root: Path, images: list[PlannedImage], render: Callable) -> None:
    rows = []
    for number, image in enumerate(images):
        image_id = f"{SIIM_UID}.{number + 1}.1517875{number:06d}.{image.patient}"
        study, series = f"{SIIM_UID}.2.{number + 1}", f"{SIIM_UID}.3.{number + 1}"
        pixels, drawn = render(image)
        path = root / "dicom-images-train" / study / series / f"{image_id}.dcm"
        _write_dicom(path, pixels, 8, PatientID=image_id, ViewPosition=image.view)
        runs = [_relative_runs(mask) for _, _, mask in drawn if mask.any()]
        rows += [[image_id, f" {r}"] for r in runs] or [[image_id, " -1"]]
    write_csv(root / "train-rle.csv", ["ImageId", " EncodedPixels"], rows)
