"""How fast ``report.html`` opens and responds with the real test split's size, in headless
Chromium from disk.

    python benchmarks/report_html.py --json benchmarks/results/report_html_cpu.json

Generates viewer records for ``--images`` test images (NIH: 880 with boxes) and ``--models``
models (the paper: 4), each with CAM and CAM + PCM maps at 32 x 32 (a 256-px input at stride 8)
for one or two GT classes and 256-px thumbnails; writes the page; then times, as medians over
``--repeats`` fresh page loads: load to the first image drawn, a sort switch, a class filter, the
next image (keyboard), and a switch of the map kind.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import utc_now, write_json
from browser import CHROMIUM_ARGS, chromium_path, unavailable_reason

from cxr14_data import BOX_CLASSES
from cxr_paper.configuration.task import chestxray14
from cxr_paper.reporting.document import Document
from cxr_paper.reporting.html_report import write_html_report

SHOWN = "document.body.dataset.shown"


def viewer_records(images: int, models: int, seed: int = 0) -> dict[str, dict]:
    """Random records shaped as ``cxr_paper.scoring.viewer_data`` makes them."""
    rng = np.random.default_rng(seed)
    names = [f"{i:08d}_000.png" for i in range(images)]
    base = {}
    for name in names:
        gt = {}
        for klass in rng.choice(BOX_CLASSES, size=int(rng.integers(1, 3)), replace=False):
            x, y = rng.uniform(0, 180, 2)
            gt[str(klass)] = np.array([[x, y, *rng.uniform(10, 70, 2)]], np.float32)
        pixels = (rng.random((256, 256)) * 255).astype(np.uint8)
        base[name] = {"pixels": pixels, "size": [256, 256], "gt": gt}
    viewers = {}
    for m in range(models):
        viewer = {}
        for name, record in base.items():
            kinds = {}
            for kind in ("cam", "pcm"):
                kinds[kind] = {
                    klass: {
                        "prob": float(rng.random()),
                        "map": (rng.random((32, 32)) * 255).astype(np.uint8),
                        "boxes": boxes + rng.normal(0, 5, boxes.shape).astype(np.float32),
                        "hits": rng.random(len(boxes)) < 0.5,
                        "box_hits": rng.random(len(boxes)) < 0.5,
                    }
                    for klass, boxes in record["gt"].items()
                }
            viewer[name] = {**record, "kinds": kinds}
        viewers[f"model_{m}"] = viewer
    return viewers


def _time_steps(page, url: str, steps: dict[str, list[float]]) -> None:
    """One fresh load and the interactions after it, each until the page has drawn its result."""

    def timed(name: str, action, done: str) -> None:
        started = time.perf_counter()
        action()
        page.wait_for_function(done)
        steps.setdefault(name, []).append(time.perf_counter() - started)

    timed("load_to_first_image_s", lambda: page.goto(url), f"!!{SHOWN}")
    before = page.evaluate(SHOWN)
    timed(
        "sort_by_box_size_s", lambda: page.select_option("#sort", "size"), f"{SHOWN} !== {before!r}"
    )
    timed(
        "filter_one_class_s",
        lambda: page.select_option("#klass", "Nodule"),
        f"{SHOWN}.endsWith('|Nodule')",
    )
    before = page.evaluate(SHOWN)
    timed("next_image_s", lambda: page.keyboard.press("j"), f"{SHOWN} !== {before!r}")
    timed(
        "switch_map_kind_s",
        lambda: page.select_option("#kind", "pcm"),
        f"{SHOWN}.includes('|pcm|')",
    )


def time_page(url: str, repeats: int) -> dict[str, float]:
    """Median seconds of each step over ``repeats`` fresh page loads."""
    from playwright.sync_api import sync_playwright

    steps: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            _time_steps(page, url, steps)
            page.close()
        browser.close()
    return {name: statistics.median(values) for name, values in steps.items()}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=880, help="test images with boxes")
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    return parser


def main(args: argparse.Namespace) -> dict:
    reason = unavailable_reason()
    if reason is not None:
        raise SystemExit(f"error: no headless browser: {reason}")
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        started = time.perf_counter()
        viewers = viewer_records(args.images, args.models)
        write_html_report(
            page,
            Document().heading("Benchmark", 1),
            viewers,
            {},
            "benchmark",
            0.5,
            0.7,
            chestxray14(),
        )
        written = time.perf_counter() - started
        files = list((page.parent / "report_files").rglob("*"))
        size_mb = sum(f.stat().st_size for f in files if f.is_file()) / 2**20
        timings = time_page(page.as_uri(), args.repeats)
        report = {
            "date": utc_now(),
            "images": args.images,
            "models": args.models,
            "page_kib": page.stat().st_size / 1024,
            "report_files_mib": size_mb,
            "generate_and_write_s": written,
            "repeats": args.repeats,
            **timings,
        }
    write_json(report, args.json)
    print(report)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
