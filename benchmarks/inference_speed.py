"""Table 4: parameters and inference speed of the standard and multi-resolution models (+ PCM).

    python benchmarks/inference_speed.py --device cpu --json benchmarks/results/inference_cpu.json
    python benchmarks/inference_speed.py --device cuda --variants fp32 channels_last bf16 compile

Latency is one 256x256x3 image (batch 1): warm-up, then median and quartiles over repeats, with
CUDA synchronisation on GPU. Throughput is images/s at a larger batch. Ratios (MultiRes/standard,
+PCM/without) come from the same run, so they compare like with like on any device.
"""

from __future__ import annotations

import argparse
import platform
import sys
from contextlib import nullcontext
from pathlib import Path

import timm
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from _harness import time_call, utc_now, write_json
from cxr_paper.paper_numbers import TABLE4

from multires_backbone import CAMClassifier, create_model, published_parameter_count
from pcm_seam import PCM, refine

PAPER_MODELS = ["resnet50", "multires_resnet50", "efficientnet_b4", "multires_efficientnet_b4"]
VARIANTS = ("fp32", "channels_last", "bf16", "compile")


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build_forward(model: CAMClassifier, pcm: PCM | None, variant: str, device: torch.device):
    """A no-grad forward for one variant; returns ``fn(x)``."""
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    runner = torch.compile(model) if variant == "compile" else model
    autocast = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16))
        if variant == "bf16"
        else nullcontext
    )

    @torch.no_grad()
    def forward(x: torch.Tensor) -> None:
        if variant == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            out = runner(x)
            if pcm is not None:
                refine(pcm, out.features, out.cams)

    return forward


def benchmark_model(name: str, args: argparse.Namespace, device: torch.device) -> dict:
    torch.manual_seed(0)
    model = create_model(name, num_classes=14).to(device).eval()
    pcm = PCM(model.num_features).to(device).eval()
    single = torch.randn(1, 3, args.size, args.size, device=device)
    batch = torch.randn(args.batch, 3, args.size, args.size, device=device)
    result = {
        "params_published": published_parameter_count(name),
        "params": count(model),
        "params_with_pcm": count(model) + count(pcm),
        "latency_ms": {},
        "latency_ms_pcm": {},
        "throughput": {},
    }
    for variant in args.variants:
        forward = build_forward(model, None, variant, device)
        with_pcm = build_forward(model, pcm, variant, device)
        result["latency_ms"][variant] = time_call(
            lambda f=forward: f(single), device, args.repeats
        ).as_dict()
        result["latency_ms_pcm"][variant] = time_call(
            lambda f=with_pcm: f(single), device, args.repeats
        ).as_dict()
        timing = time_call(lambda f=forward: f(batch), device, max(1, args.repeats // 4), warmup=1)
        result["throughput"][variant] = args.batch / (timing.median_ms / 1000)
        model = model.to(memory_format=torch.contiguous_format)
    return result


def ratios(models: dict[str, dict], variant: str) -> dict[str, float]:
    """MultiRes/standard latency and +PCM/without, from this run."""
    out = {}
    for name, result in models.items():
        base = result["latency_ms"][variant]["median_ms"]
        out[f"{name}: +PCM / without"] = result["latency_ms_pcm"][variant]["median_ms"] / base
        standard = name.removeprefix("multires_")
        if name.startswith("multires_") and standard in models:
            out[f"{name} / {standard}"] = (
                base / models[standard]["latency_ms"][variant]["median_ms"]
            )
    return out


def markdown(report: dict) -> str:
    variant = report["variants"][0]
    lines = [
        f"Device: {report['device_name']} ({report['device']}), torch {report['torch']}, "
        f"{report['size']}x{report['size']}x3, batch 1 latency (median ms, {variant}); "
        f"paper: one P100.",
        "",
        "| model | params (published config) | paper params | ms | ms + PCM | img/s (batch "
        f"{report['batch']}) | paper ms (P100) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in report["models"].items():
        paper_ms, paper_params = TABLE4.get(name, (None, None))
        paper_params_text = f"{paper_params:,}" if paper_params else "–"
        lines.append(
            f"| {name} | {result['params_published']:,} | {paper_params_text} "
            f"| {result['latency_ms'][variant]['median_ms']:.1f} "
            f"| {result['latency_ms_pcm'][variant]['median_ms']:.1f} "
            f"| {result['throughput'][variant]:.1f} | {paper_ms if paper_ms else '–'} |"
        )
    lines += ["", *(f"- {k}: {v:.3f}" for k, v in report["ratios"].items())]
    if len(report["variants"]) > 1:
        lines += [
            "",
            "| model | " + " | ".join(report["variants"]) + " |",
            "|---|" + "---|" * len(report["variants"]),
        ]
        for name, result in report["models"].items():
            cells = [f"{result['latency_ms'][v]['median_ms']:.1f}" for v in report["variants"]]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to measure")
    parser.add_argument(
        "--models", nargs="+", default=PAPER_MODELS, help="model names (create_model)"
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=["fp32", "channels_last", "bf16"],
        help="execution variants; 'compile' is slow to build on CPU",
    )
    parser.add_argument("--size", type=int, default=256, help="input side (the paper: 256)")
    parser.add_argument("--batch", type=int, default=16, help="batch for the throughput figure")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per latency figure")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="few repeats and a small batch, for a smoke check"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    return parser


def main(args: argparse.Namespace) -> dict:
    if args.quick:
        args.repeats, args.batch = min(args.repeats, 3), min(args.batch, 2)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda, but no CUDA device is available.")
    models = {name: benchmark_model(name, args, device) for name in args.models}
    report = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "date": utc_now(),
        "size": args.size,
        "batch": args.batch,
        "variants": list(args.variants),
        "models": models,
        "ratios": ratios(models, args.variants[0]),
    }
    print(markdown(report))
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
