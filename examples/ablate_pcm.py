"""What the PCM does: retrain only the PCM of a finished run under named SEAM variants.

    python examples/ablate_pcm.py --run runs/demo                 # every variant, the run's models
    python examples/ablate_pcm.py --run runs/demo --variants paper seam untrained --quick

Stage 1 is not retrained: each model's classifier comes from the run's ``final.pt`` and stays
frozen; for each variant a fresh PCM is trained with SEAM (the run's stage-2 schedule) and the test
split is scored with and without it. Writes ``ablation.json`` and ``ablation.md`` into the run
folder: per class accuracy at IoBB > 0.1 and false positives per image, their means, the CAM-only
row, and the seconds each variant took.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cxr_paper.cli import validate
from cxr_paper.config import RunConfig
from cxr_paper.data import build_loaders
from cxr_paper.distributed import init_distributed
from cxr_paper.evaluation import evaluate_run
from cxr_paper.final import FINAL_FILE, load_final
from cxr_paper.jsonio import write_json
from cxr_paper.training import fit_pcm

from cxr14_data import BOX_CLASSES
from multires_backbone import is_multires
from pcm_seam import PCM, SEAM_VARIANTS

#: SEAMLoss argument -> RunConfig flag.
SEAM_FLAGS = {
    "mask_input": "pcm_input_masking",
    "label_loss_maps": "seam_label_maps",
    "ecr_normalize": "ecr_normalize",
    "ecr_resolution": "ecr_resolution",
    "msml_reduction": "msml_reduction",
    "msml_on": "msml_on",
    "angle_per": "seam_angle_per",
    "mask_padding": "mask_padding",
}
#: Variants beyond the sources: the paper's setting with one of SEAM's design ideas added.
EXPERIMENTS: dict[str, dict[str, Any]] = {
    "paper+image": dict(pcm_reads_image=True),
    "paper+logit-msml": dict(msml_on="refined_logits"),
}
UNTRAINED = "untrained"
VARIANTS = [*SEAM_VARIANTS, *EXPERIMENTS, UNTRAINED]


def variant_config(run: RunConfig, name: str) -> RunConfig:
    """The run's configuration with the SEAM switches of variant ``name``."""
    defaults = {flag: getattr(RunConfig(), flag) for flag in SEAM_FLAGS.values()}
    defaults["pcm_reads_image"] = False
    if name in SEAM_VARIANTS:
        changes = {SEAM_FLAGS[k]: v for k, v in SEAM_VARIANTS[name].items()}
    else:
        changes = EXPERIMENTS.get(name, {})
    return dataclasses.replace(run, **{**defaults, **changes})


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished reproduce_paper run")
    parser.add_argument(
        "--variants", nargs="+", choices=VARIANTS, default=VARIANTS, help="variants to train"
    )
    parser.add_argument(
        "--models", nargs="+", default=None, help="models of the run (default: its MultiRes ones)"
    )
    parser.add_argument("--quick", action="store_true", help="one PCM epoch (for tests)")
    return parser


def _row(localization: dict) -> dict[str, Any]:
    at = localization["iobb"]["0.1"]
    return {
        "accuracy": {c: at[c]["accuracy"] for c in [*BOX_CLASSES, "mean"]},
        "afp": {c: at[c]["afp"] for c in [*BOX_CLASSES, "mean"]},
    }


def ablate(run_dir: Path, variants: list[str], models: list[str] | None, quick: bool) -> dict:
    saved = json.loads((run_dir / "config.json").read_text())
    known = {f.name for f in dataclasses.fields(RunConfig)} - {"out"}
    run = RunConfig(**{k: v for k, v in saved.items() if k in known}, out=str(run_dir))
    validate(run)
    if quick:
        run = dataclasses.replace(run, pcm_epochs=1, pcm_overrides={})
    ctx = init_distributed(run.device)
    models = models or [m for m in run.models if is_multires(m)] or run.models
    results: dict[str, Any] = {"run": str(run_dir), "variants": {}}
    for name in models:
        final = load_final(run_dir / name / FINAL_FILE, ctx.device)
        loaders = build_loaders(run, ctx, final.normalization)
        model, _ = final.build(ctx.device)
        rows: dict[str, Any] = {}
        for variant in variants:
            config = variant_config(run, variant)
            started = time.perf_counter()
            folder = run_dir / "ablation" / name / variant
            if variant == UNTRAINED:
                torch.manual_seed(config.seed)
                pcm = PCM(model.num_features).to(ctx.device)
            else:
                pcm, _ = fit_pcm(name, model, loaders, config, folder, ctx, resume=False)
            desc = f"{name} {variant}"
            test = evaluate_run(model, pcm, loaders.test, config, ctx, set(), desc, ("cam",))
            rows.setdefault("CAM only", _row(test.localization["cam"]))
            rows[variant] = {
                **_row(test.localization["pcm"]),
                "seconds": time.perf_counter() - started,
            }
            print(f"{name} {variant}: mean accuracy {rows[variant]['accuracy']['mean']:.3f}")
        results["variants"][name] = rows
    return results


def _f(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.3f}"


def to_markdown(results: dict) -> str:
    lines = [
        "# PCM ablation",
        "",
        f"Run: `{results['run']}`; stage 1 kept, only the PCM retrained per variant. Accuracy at "
        "IoBB > 0.1 (Q = 0.7) per class, its mean, and mean false positives per image (AFP).",
    ]
    for model, rows in results["variants"].items():
        header = ["variant", *BOX_CLASSES, "mean", "AFP", "s"]
        lines += ["", f"## {model}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        for variant, row in rows.items():
            cells = [_f(row["accuracy"][c]) for c in [*BOX_CLASSES, "mean"]]
            seconds = f"{row['seconds']:.0f}" if "seconds" in row else "–"
            lines.append(
                f"| {variant} | " + " | ".join([*cells, _f(row["afp"]["mean"]), seconds]) + " |"
            )
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace) -> dict:
    results = ablate(args.run, args.variants, args.models, args.quick)
    write_json(results, args.run / "ablation.json")
    (args.run / "ablation.md").write_text(to_markdown(results))
    print(f"Ablation: {(args.run / 'ablation.md').resolve()}")
    return results


if __name__ == "__main__":
    main(get_args_parser().parse_args())
