"""Table 4: parameters and inference speed of the standard and multi-resolution models (+ PCM).

    python benchmarks/inference_speed.py --device cpu --json benchmarks/results/inference_cpu.json
    python benchmarks/inference_speed.py --device cuda --variants fp32 channels_last bf16 compile

Latency is one 256x256x3 image (batch 1), timed by ``torch.utils.benchmark``
(``blocked_autorange``: warm-up, CUDA synchronisation, median and IQR). Throughput is images/s at a
larger batch. The ratios MultiRes/standard and +PCM/without are timed *interleaved* (the two
forwards alternate, round after round), so they compare like with like on any device. A variant
the device cannot run natively (bf16 on a CPU without AVX512-BF16/AMX) is reported as
unsupported, not timed.
"""

from __future__ import annotations

import argparse
import platform
from contextlib import nullcontext
from pathlib import Path

import timm
import torch
from _harness import utc_now, write_json

from cxr_paper.configuration.paper_numbers import TABLE4
from cxr_paper.machine.timing import interleaved_ratio, native_bf16, time_call
from cxr_paper.reporting.document import make_table
from multires_backbone import (
    CAMClassifier,
    create_model,
    is_multires,
    published_parameter_count,
)
from multires_backbone.registry import MULTIRES_PREFIX
from pcm_seam import PCM, refine

PAPER_MODELS = ["resnet50", "multires_resnet50", "efficientnet_b4", "multires_efficientnet_b4"]
#: Execution variants; a name joins its features with "+" (e.g. ``bf16+channels_last+compile``).
VARIANTS = (
    "fp32",
    "channels_last",
    "bf16",
    "compile",
    "bf16+channels_last",
    "bf16+channels_last+compile",
)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build_forward(model: CAMClassifier, pcm: PCM | None, variant: str, device: torch.device):
    """A no-grad forward for one variant; returns ``fn(x)``."""
    features = set(variant.split("+"))
    channels_last = "channels_last" in features
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    runner = torch.compile(model) if "compile" in features else model
    autocast = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16))
        if "bf16" in features
        else nullcontext
    )

    @torch.no_grad()
    def forward(x: torch.Tensor) -> None:
        if channels_last:
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
        "unsupported": [],
        "forwards": {},
    }
    for variant in args.variants:
        if "bf16" in variant.split("+") and not native_bf16(device):
            result["unsupported"].append(variant)
            continue
        forward = build_forward(model, None, variant, device)
        with_pcm = build_forward(model, pcm, variant, device)
        latency = time_call(lambda f=forward: f(single), args.min_time)
        result["latency_ms"][variant] = latency.as_dict()
        latency_pcm = time_call(lambda f=with_pcm: f(single), args.min_time)
        result["latency_ms_pcm"][variant] = latency_pcm.as_dict()
        timing = time_call(lambda f=forward: f(batch), args.min_time)
        result["throughput"][variant] = args.batch / (timing.median_ms / 1000)
        result["forwards"][variant] = (lambda f=forward: f(single), lambda f=with_pcm: f(single))
        model = model.to(memory_format=torch.contiguous_format)
    return result


def ratios(models: dict[str, dict], variant: str, rounds: int, min_time: float) -> dict[str, float]:
    """MultiRes/standard and +PCM/without, each pair timed interleaved."""
    out = {}
    for name, result in models.items():
        if variant not in result["forwards"]:
            continue
        plain, with_pcm = result["forwards"][variant]
        out[f"{name}: +PCM / without"] = interleaved_ratio(with_pcm, plain, rounds, min_time)
        standard = name.removeprefix(MULTIRES_PREFIX)
        if is_multires(name) and standard in models:
            baseline = models[standard]["forwards"][variant][0]
            out[f"{name} / {standard}"] = interleaved_ratio(plain, baseline, rounds, min_time)
    return out


def markdown(report: dict) -> str:
    variant = report["variants"][0]
    header = [
        "model",
        "params (published config)",
        "paper params",
        "ms",
        "ms + PCM",
        f"img/s (batch {report['batch']})",
        "paper ms (P100)",
    ]
    rows = []
    for name, result in report["models"].items():
        paper_ms, paper_params = TABLE4.get(name, (None, None))
        rows.append(
            [
                name,
                f"{result['params_published']:,}",
                f"{paper_params:,}" if paper_params else "–",
                f"{result['latency_ms'][variant]['median_ms']:.1f}",
                f"{result['latency_ms_pcm'][variant]['median_ms']:.1f}",
                f"{result['throughput'][variant]:.1f}",
                f"{paper_ms}" if paper_ms else "–",
            ]
        )
    lines = [
        f"Device: {report['device_name']} ({report['device']}), torch {report['torch']}, "
        f"{report['size']}x{report['size']}x3, batch 1 latency (median ms, {variant}); "
        f"paper: one P100.",
        "",
        make_table(header, rows).to_markdown(),
    ]
    for variant_name, values in report["ratios"].items():
        lines += ["", f"Interleaved ratios, {variant_name}:"]
        lines += [f"- {k}: {v:.3f}" for k, v in values.items()]
    if len(report["variants"]) > 1:
        by_variant = [
            [
                name,
                *(
                    f"{result['latency_ms'][v]['median_ms']:.1f}"
                    if v in result["latency_ms"]
                    else "unsupported"
                    for v in report["variants"]
                ),
            ]
            for name, result in report["models"].items()
        ]
        lines += ["", make_table(["model", *report["variants"]], by_variant).to_markdown()]
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
    parser.add_argument(
        "--min-time",
        type=float,
        default=1.0,
        help="seconds of calls per timing (blocked_autorange)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per ratio")
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
        args.min_time, args.rounds, args.batch = 0.05, 1, min(args.batch, 2)
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
        "ratios": {
            variant: ratios(models, variant, args.rounds, args.min_time)
            for variant in args.variants[:2]
        },
    }
    for result in models.values():
        del result["forwards"]
    print(markdown(report))
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
