"""Images per second one core decodes and transforms, by source format, at the paper's input.

    python benchmarks/loader_speed.py --json benchmarks/results/loader_speed_cpu.json

``--images`` radiographs of 2,048 x 2,048 (CheXpert's and MIMIC's JPEGs are about that; NIH's
PNGs 1,024) are written as 8-bit JPEG (quality 95), 8-bit PNG and 16-bit DICOM (12 bits stored),
each with a smooth phantom and noise so that they compress as radiographs do; then
:class:`~cxr14_data.layouts.LayoutDataset` serves them through ``paper_transforms(True, 512)``
(one process, one thread: per core). Each format is read ``--repeats`` times over all images;
the median rate is reported.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _harness import utc_now, write_json
from PIL import Image

from cxr14_data import paper_transforms
from cxr14_data.layouts import LabelTable, LayoutDataset


def phantom(size: int, seed: int) -> np.ndarray:
    """A 12-bit radiograph-like image: a smooth field, two lung-like ellipses and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    field = 2000 + 800 * np.sin(3 * x) * np.cos(2 * y)
    for cx in (0.32, 0.68):
        field -= 900 * (((x - cx) / 0.16) ** 2 + ((y - 0.5) / 0.3) ** 2 < 1)
    return np.clip(field + rng.normal(0, 60, (size, size)), 0, 4095).astype(np.uint16)


def write_images(folder: Path, kind: str, count: int, size: int) -> list[str]:
    names = []
    for i in range(count):
        pixels = phantom(size, i)
        name = f"{i:04d}.{kind}"
        if kind == "dcm":
            from dicom_writer import write_dicom

            write_dicom(folder / name, pixels)
        else:
            eight = (pixels >> 4).astype(np.uint8)
            Image.fromarray(eight).save(folder / name, **({"quality": 95} if kind == "jpg" else {}))
        names.append(name)
    return names


def rate(folder: Path, names: list[str], repeats: int) -> list[float]:
    table = LabelTable(
        "bench", ("A",), names, names, None, [""] * len(names),
        np.zeros((len(names), 1), np.float32), None, "",
    )  # fmt: skip
    dataset = LayoutDataset(table, folder, paper_transforms(True, 512))
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for i in range(len(dataset)):
            dataset[i]
        rates.append(len(dataset) / (time.perf_counter() - started))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("jpg", "png", "dcm"):
            folder = Path(tmp) / kind
            folder.mkdir()
            names = write_images(folder, kind, args.images, args.size)
            mib = sum((folder / n).stat().st_size for n in names) / len(names) / 2**20
            rates = rate(folder, names, args.repeats)
            rows[kind] = {
                "images_per_s_median": round(statistics.median(rates), 2),
                "runs": [round(r, 2) for r in rates],
                "mib_per_file": round(mib, 2),
            }
            print(kind, rows[kind], flush=True)
    write_json(
        {"measured": utc_now(), "size": args.size, "input": 512, "threads": 1, "formats": rows},
        args.json,
    )


if __name__ == "__main__":
    main()
