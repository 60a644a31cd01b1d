"""Memory and speed of ``python -m cam_boxes_iobb score`` as the number of images grows: NIH-style
box annotations (1024 frame) and maps of 14 x 32 x 32, scored at a 256 px network input.

    python benchmarks/score_maps.py --json benchmarks/results/score_maps_cpu.json

Each size runs in a fresh process, with and without the bootstrap's per-image records
(``--resamples 0``). Its peak memory is ``VmHWM`` from ``/proc/self/status`` (Linux): unlike
``ru_maxrss``, which Linux carries across ``exec`` from the parent that generated the inputs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cam_boxes_iobb.formats.nih import NIH_BOX_CLASSES as BOX_CLASSES
from cam_boxes_iobb.formats.nih import NIH_CLASSES
from cam_boxes_iobb.maps import save_maps


def make_inputs(folder: Path, images: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    names = [f"{i // 3:08d}_{i % 3:03d}.png" for i in range(images)]
    rows = ["Image Index,Finding Label,Bbox [x,y,w,h],,,"]
    maps = rng.normal(size=(images, 14, 32, 32)).astype(np.float32)
    for i, name in enumerate(names):
        k = int(rng.integers(8))
        x, y, size = rng.uniform(100, 700), rng.uniform(100, 700), rng.uniform(50, 250)
        rows.append(f"{name},{BOX_CLASSES[k]},{x:.1f},{y:.1f},{size:.1f},{size:.1f},,,")
        maps[
            i, k, int(y / 32) : int((y + size) / 32) + 1, int(x / 32) : int((x + size) / 32) + 1
        ] += 3
    (folder / "BBox_List_2017.csv").write_text("\n".join(rows) + "\n")
    maps_path = save_maps(
        folder / "maps.npz", names, NIH_CLASSES, maps, rng.uniform(size=(images, 14))
    )
    return folder, maps_path


def measure(images: int, resamples: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder, maps = make_inputs(Path(tmp), images)
        started = time.perf_counter()
        command = [
            sys.executable,
            "-c",
            (
                "import re, sys; from pathlib import Path; from cam_boxes_iobb.cli import main; "
                "code = main(sys.argv[1:]); status = Path('/proc/self/status').read_text(); "
                "print('RSS', re.search(r'VmHWM:\\s+(\\d+)', status).group(1)); sys.exit(code)"
            ),
            "score",
            "--maps",
            str(maps),
            "--annotations",
            str(folder),
            "--format",
            "nih",
            "--score-size",
            "256",
            "256",
            "--out",
            str(Path(tmp) / "out"),
            "--resamples",
            str(resamples),
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        seconds = time.perf_counter() - started
        rss_kib = int(output.split("RSS")[-1].split()[0])
    return {
        "images": images,
        "resamples": resamples,
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(rss_kib / 1024, 1),
        "maps_mib": round(images * 14 * 32 * 32 * 4 / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--resamples", type=int, nargs="+", default=[0, 1000])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for images in args.images:
        for resamples in args.resamples:
            rows.append(measure(images, resamples))
            print(rows[-1], flush=True)
    if args.json:
        args.json.write_text(
            json.dumps({"measured": time.strftime("%Y-%m-%d"), "rows": rows}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
