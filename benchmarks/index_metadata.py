"""Seconds and peak memory to index each data set's full-size metadata into a LabelTable.

    python benchmarks/index_metadata.py --json benchmarks/results/index_metadata_cpu.json

Real files where torchxrayvision's wheel ships them (CheXpert ``train.csv``, 223,414 rows;
VinDr-CXR Kaggle ``train.csv``; RSNA ``stage_2_train_labels.csv``; SIIM-ACR ``train-rle.csv``;
NIH ``Data_Entry_2017_v2020.csv``, 112,120 rows). MIMIC-CXR-JPG's files are not public: its three
CSVs are written at full size in their published layout (377,110 images in 227,835 studies of
65,379 subjects, Johnson et al. 2019) with random labels. Each reader runs ``--repeats`` times,
each in a fresh process; peak memory is that process's ``VmHWM`` (Linux), the interpreter and
imports included (``baseline`` row: the same process reading nothing).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from _harness import utc_now, write_json

from cxr14_data.layouts import CHEXPERT_CLASSES

#: layout -> (reader call, given the file's path as ``PATH``)
READERS = {
    "baseline": "None",
    "nih": "cxr14_data.read_data_entry(PATH)",
    "chexpert": "cxr14_data.layouts.read_chexpert(PATH)",
    "vindr": "cxr14_data.layouts.read_vindr_kaggle(PATH)",
    "rsna": "cxr14_data.layouts.read_rsna(PATH)",
    "siim": "cxr14_data.layouts.read_siim(PATH)",
    "mimic": "cxr14_data.layouts.read_mimic(PATH)",
}
MIMIC_SIZE = (377_110, 227_835, 65_379)  # images, studies, subjects


def real_files(folder: Path) -> dict[str, Path]:
    """The files torchxrayvision ships, decompressed where a reader needs a plain file."""
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "torchxrayvision is needed for the real files: pip install --no-deps torchxrayvision"
        )
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    with zipfile.ZipFile(data / "kaggle_stage_2_train_labels.csv.zip") as archive:
        rsna = folder / "stage_2_train_labels.csv"
        rsna.write_bytes(archive.read(archive.namelist()[0]))
    siim = folder / "train-rle.csv"
    siim.write_bytes(gzip.decompress((data / "siim-pneumothorax-train-rle.csv.gz").read_bytes()))
    return {
        "nih": data / "Data_Entry_2017_v2020.csv.gz",
        "chexpert": data / "chexpert_train.csv.gz",
        "vindr": data / "vinbigdata-train.csv.gz",
        "rsna": rsna,
        "siim": siim,
    }


def write_mimic(folder: Path, size: tuple[int, int, int] = MIMIC_SIZE, seed: int = 0) -> Path:
    """MIMIC-CXR-JPG's three CSVs at ``size`` (images, studies, subjects), random labels."""
    images, studies, subjects = size
    rng = np.random.default_rng(seed)
    subject_of_study = 10_000_000 + rng.integers(0, subjects, studies)
    study_ids = 50_000_000 + np.arange(studies)
    study_of_image = np.sort(rng.integers(0, studies, images))
    views = np.array(["PA", "AP", "LATERAL", "LL", ""])[rng.integers(0, 5, images)]
    with open(folder / "mimic-cxr-2.0.0-metadata.csv", "w") as out:
        out.write("dicom_id,subject_id,study_id,ViewPosition\n")
        for i, s in enumerate(study_of_image):
            out.write(f"d{i:07d},{subject_of_study[s]},{study_ids[s]},{views[i]}\n")
    with open(folder / "mimic-cxr-2.0.0-split.csv", "w") as out:
        out.write("dicom_id,study_id,subject_id,split\n")
        for i, s in enumerate(study_of_image):
            out.write(f"d{i:07d},{study_ids[s]},{subject_of_study[s]},train\n")
    values = np.array(["1.0", "0.0", "-1.0", ""])
    with open(folder / "mimic-cxr-2.0.0-chexpert.csv", "w") as out:
        out.write("subject_id,study_id," + ",".join(sorted(CHEXPERT_CLASSES)) + "\n")
        for s in range(studies):
            row = values[rng.integers(0, 4, len(CHEXPERT_CLASSES))]
            out.write(f"{subject_of_study[s]},{study_ids[s]}," + ",".join(row) + "\n")
    return folder


def measure(layout: str, path: Path) -> dict[str, float]:
    code = (
        "import re, sys, time; from pathlib import Path; import cxr14_data, cxr14_data.layouts; "
        f"PATH = Path({str(path)!r}); started = time.perf_counter(); table = {READERS[layout]}; "
        "seconds = time.perf_counter() - started; "
        "status = Path('/proc/self/status').read_text(); "
        "print(seconds, re.search(r'VmHWM:\\s+(\\d+)', status).group(1), "
        "0 if table is None else len(table))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    seconds, kib, rows = output.stdout.split()
    return {"seconds": float(seconds), "peak_mib": int(kib) / 1024, "rows": int(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mimic-images", type=int, default=MIMIC_SIZE[0], help="for tests")
    parser.add_argument("--layouts", nargs="+", choices=list(READERS), default=list(READERS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = {"baseline": Path(tmp), **real_files(Path(tmp))}
        images = args.mimic_images
        scale = images / MIMIC_SIZE[0]
        size = (images, max(1, int(MIMIC_SIZE[1] * scale)), max(1, int(MIMIC_SIZE[2] * scale)))
        files["mimic"] = write_mimic(Path(tmp), size)
        rows = {}
        for layout, path in files.items():
            if layout not in args.layouts:
                continue
            runs = [measure(layout, path) for _ in range(args.repeats)]
            rows[layout] = {
                "rows": runs[0]["rows"],
                "seconds_median": round(statistics.median(r["seconds"] for r in runs), 2),
                "seconds_runs": [round(r["seconds"], 2) for r in runs],
                "peak_mib_median": round(statistics.median(r["peak_mib"] for r in runs), 1),
            }
            print(layout, rows[layout], flush=True)
    write_json({"measured": utc_now(), "repeats": args.repeats, "layouts": rows}, args.json)


if __name__ == "__main__":
    main()
