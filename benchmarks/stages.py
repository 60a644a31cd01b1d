"""Where the pipeline's time goes, stage by stage, on one device.

    python benchmarks/stages.py --json benchmarks/results/stages_cpu.json

- PCM forward, dense vs chunked, at 32x32 and 64x64 maps (512 channels, 15 maps, batch 1).
- PCM memory: peak memory and time of the dense and the ``chunk_size="auto"`` PCM at 256, 512
  and 1024 px inputs (CAMs at 1/8: 32, 64, 128 px; the affinity is (h w)^2), each in a fresh
  process (CPU: its peak resident memory above the resident memory before the call; CUDA: the
  allocator's peak), beside the affinity's own size.
- CAM -> heatmap -> boxes -> localization-metric update for 14 classes at 256 px, images/s on
  one thread (so "per core").
- The data loader (decode + eval transform), images/s with and without the prepared uint8 store.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from _harness import utc_now, write_json

from cam_boxes_iobb import LocalizationMetric, heatmap_to_boxes, normalize_heatmap
from cxr14_data import BOX_CLASSES, CLASSES, ChestXray14, make_synthetic, paper_transforms, prepare
from cxr_paper.machine.timing import time_call
from pcm_seam import PCM, auto_chunk_size


def bench_pcm(sides: list[int], chunk: int, repeats: int, device: torch.device) -> dict:
    torch.manual_seed(0)
    pcm = PCM(512).to(device).eval()
    out = {}
    for side in sides:
        features = torch.randn(1, 512, side, side, device=device)
        cams = torch.rand(1, 15, side, side, device=device)
        for label, chunk_size in (("dense", None), (f"chunked_{chunk}", chunk)):
            pcm.chunk_size = chunk_size
            with torch.no_grad():
                timing = time_call(lambda f=features, c=cams: pcm(f, c), 0.05 * repeats)
            out[f"{side}x{side}_{label}"] = timing.as_dict()
    return out


def _pcm_memory_job(job: tuple[int, str, str]) -> dict:
    side, mode, device_name = job
    import resource

    device = torch.device(device_name)
    torch.manual_seed(0)
    pcm = PCM(512, chunk_size=None if mode == "dense" else "auto").to(device).eval()
    features = torch.randn(1, 512, side, side, device=device)
    cams = torch.rand(1, 15, side, side, device=device)
    pages = int(Path("/proc/self/statm").read_text().split()[1])  # resident now, not the peak
    baseline = pages * resource.getpagesize()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
    with torch.no_grad():
        timing = time_call(lambda: pcm(features, cams), min_run_time=0.2)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    pixels = side * side
    chunk = pcm.chunk_size if mode == "dense" else auto_chunk_size(1, pixels)
    affinity = (chunk or pixels) * pixels * 4
    return {
        "ms": timing.median_ms,
        "peak_mib": max(peak - baseline, 0) / 2**20,
        "affinity_mib": affinity / 2**20,
        "chunk": chunk,
    }


def bench_pcm_memory(inputs: list[int], device: torch.device) -> dict:
    """Dense vs auto-chunked PCM at input sides ``inputs`` (CAM side = input / 8)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    out = {}
    context = multiprocessing.get_context("spawn")
    for size in inputs:
        for mode in ("dense", "auto"):
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                result = pool.submit(_pcm_memory_job, (size // 8, mode, device.type)).result()
            out[f"{size}px_{mode}"] = result
    return out


def bench_boxes(n_images: int, size: int, cam_side: int, validate_args: bool = True) -> dict:
    """Single-threaded CAM -> boxes -> metric, 14 classes per image; ``validate_args``: whether
    the metric re-checks every image's boxes (off where the pipeline made them)."""
    torch_threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        rng = np.random.default_rng(0)
        cams = rng.standard_normal((n_images, len(CLASSES), cam_side, cam_side)).astype(np.float32)
        gt = {name: np.array([[40.0, 60.0, 50.0, 40.0]]) for name in BOX_CLASSES}
        metric = LocalizationMetric(CLASSES, validate_args=validate_args)
        start = time.perf_counter()
        for image_cams in cams:
            heatmaps = normalize_heatmap(image_cams, size=(size, size))
            pred = {
                name: heatmap_to_boxes(h, 0.7) for name, h in zip(CLASSES, heatmaps, strict=True)
            }
            metric.update(pred, gt)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(torch_threads)
        cv2.setNumThreads(cv_threads)
    return {
        "validate_args": validate_args,
        "images_per_s_one_core": n_images / seconds,
        "images": n_images,
        "classes": len(CLASSES),
        "size": size,
        "cam_side": cam_side,
    }


def bench_loader(patients: int, stored: int, size: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        root = make_synthetic(folder, n_patients=patients, image_size=stored, progress=False)
        transform = paper_transforms(False, size)
        out = {}
        for label, prepared in (("png", None), ("prepared", size)):
            if prepared:
                prepare(root, size=size, progress=False)
            dataset = ChestXray14(
                root, "train", transform, no_finding=None, val_fraction=0.0, prepared_size=prepared
            )
            start = time.perf_counter()
            for i in range(len(dataset)):
                dataset[i]
            out[f"{label}_images_per_s"] = len(dataset) / (time.perf_counter() - start)
        out.update(images=len(dataset), stored_size=stored, size=size)
    return out


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="where to run the PCM"
    )
    parser.add_argument("--pcm-sides", nargs="+", type=int, default=[32, 64], help="PCM map sides")
    parser.add_argument("--chunk", type=int, default=256, help="query pixels per PCM chunk")
    parser.add_argument("--repeats", type=int, default=10, help="timed PCM calls")
    parser.add_argument(
        "--box-images", type=int, default=300, help="images through CAM -> boxes -> metric"
    )
    parser.add_argument(
        "--loader-patients", type=int, default=60, help="synthetic patients for the loader test"
    )
    parser.add_argument(
        "--loader-stored-size", type=int, default=1024, help="side of the stored PNGs (NIH: 1024)"
    )
    parser.add_argument(
        "--pcm-inputs", nargs="+", type=int, default=[256, 512, 1024], help="PCM memory: input px"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke check")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    return parser


def main(args: argparse.Namespace) -> dict:
    if args.quick:
        args.pcm_sides, args.repeats, args.box_images, args.pcm_inputs = [8], 2, 10, [64]
        args.loader_patients, args.loader_stored_size = 4, 64
    device = torch.device(args.device)
    report = {
        "device": args.device,
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "date": utc_now(),
        "pcm_ms": bench_pcm(args.pcm_sides, args.chunk, args.repeats, device),
        "pcm_memory": bench_pcm_memory(args.pcm_inputs, device),
        "cam_to_metric": bench_boxes(args.box_images, 256, 32),
        "cam_to_metric_unvalidated": bench_boxes(args.box_images, 256, 32, validate_args=False),
        "loader": bench_loader(
            args.loader_patients, args.loader_stored_size, 256 if not args.quick else 32
        ),
    }
    print(json.dumps(report, indent=2))
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
