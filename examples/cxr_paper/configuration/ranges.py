"""The range of every number a run or a script takes: one table for a run's settings
(:data:`NUMBER_RANGES`), one checker (:func:`check_number`) that every script's flags go through
before anything is written. Integers must be integers, every number finite."""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

from cxr_paper.configuration.config import RunConfig
from cxr_paper.errors import RunError

#: Every number of a run's settings: ``(low, high, low included, high included)``, and for
#: lists of numbers the same for each entry. Integers must be integers, every number finite.
COUNT, SEED = (1, 10**9, True, True), (0, 2**32 - 1, True, True)
POSITIVE, NON_NEGATIVE = (0, math.inf, False, False), (0, math.inf, True, False)
FRACTION = (0, 1, True, False)
NUMBER_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "epochs": COUNT,
    "batch_size": COUNT,
    "accumulation": COUNT,
    "pcm_epochs": COUNT,
    "latency_repeats": COUNT,
    "bootstrap_resamples": (1, 10**6, True, True),
    "synthetic_patients": (1, 10**6, True, True),
    "image_size": (1, 8192, True, True),
    "synthetic_size": (32, 8192, True, True),
    "plateau_patience": (0, 10**9, True, True),
    "no_finding": (0, 10**9, True, True),
    "workers": (0, 1024, True, True),
    "checkpoint_every": (0, 10**9, True, True),
    "figure_images": (0, 10**4, True, True),
    "seed": SEED,
    "data_seed": SEED,
    "bootstrap_seed": SEED,
    "lr": POSITIVE,
    "pcm_lr": POSITIVE,
    "lse_gamma": POSITIVE,
    "grad_clip": POSITIVE,
    "weight_decay": NON_NEGATIVE,
    "min_lr": NON_NEGATIVE,
    "pointing_tolerance": NON_NEGATIVE,
    "plateau_factor": (0, 1, False, False),
    "val_fraction": (0, 1, False, False),
    "test_fraction": (0, 1, False, False),
    "rotation": (0, 180, True, True),
    "heatmap_threshold": FRACTION,
    "prob_threshold": FRACTION,
    "betas": FRACTION,
    "crop_scale": (0, 1, False, True),
    "crop_ratio": POSITIVE,
    "box_frame": (1, 10**5, True, True),
}


def check_number(flag: str, value: Any, bounds: tuple[float, float, bool, bool], integer: bool):
    """Refuse (naming ``flag``) a value that is not a finite number in ``bounds``.

    Args:
        flag: The flag named in the error.
        value: The value given.
        bounds: ``(low, high, low_inclusive, high_inclusive)``.
        integer: Whether only integers are allowed.

    Raises:
        RunError: Not a finite number in ``bounds`` (or not an integer).

    Examples:
        >>> check_number("--lr", -1.0, POSITIVE, integer=False)
        Traceback (most recent call last):
        cxr_paper.errors.RunError: --lr -1.0: expected a number > 0.
    """
    low, high, low_in, high_in = bounds
    kind = "an integer" if integer else "a number"
    parts = [f"{'>=' if low_in else '>'} {low}"] if low != -math.inf else []
    parts += [f"{'<=' if high_in else '<'} {high:g}"] if high != math.inf else []
    expected = f"{kind} {' and '.join(parts)}".strip()
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if (
        not number
        or (integer and not isinstance(value, int))
        or not math.isfinite(value)
        or not (value >= low if low_in else value > low)
        or not (value <= high if high_in else value < high)
    ):
        raise RunError(f"{flag} {value!r}: expected {expected}.")


def check_flags(
    args: argparse.Namespace, rules: dict[str, tuple[tuple[float, float, bool, bool], bool]]
) -> None:
    """A script's number flags checked by :func:`check_number` before it does anything:
    ``rules`` maps each flag's ``dest`` to ``(bounds, integer)``; ``None`` (not given) passes,
    and each entry of a list flag is checked.

    Args:
        args: The parsed command line.
        rules: Per ``dest``, its bounds and whether it is an integer.

    Raises:
        RunError: Naming the first bad flag.
    """
    for dest, (bounds, integer) in rules.items():
        value = getattr(args, dest)
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                check_number(f"--{dest.replace('_', '-')}", item, bounds, integer)


def check_numbers(config: RunConfig) -> None:
    """Every setting of :data:`NUMBER_RANGES` (each entry of a list), and the stage-2
    overrides, checked by :func:`check_number`.

    Args:
        config: The settings.

    Raises:
        RunError: Naming the first bad setting.
    """
    types = {f.name: f.type for f in dataclasses.fields(RunConfig)}
    for name, bounds in NUMBER_RANGES.items():
        flag, value = f"--{name.replace('_', '-')}", getattr(config, name)
        integer = "int" in str(types[name])
        for item in value if isinstance(value, list) else [value]:
            check_number(flag, item, bounds, integer)
    if isinstance(config.pcm_overrides, dict):
        for model, schedule in config.pcm_overrides.items():
            if not isinstance(schedule, list) or len(schedule) != 2:
                raise RunError(
                    f"--pcm-overrides {model}: expected [lr > 0, epochs: an int >= 1], got "
                    f"{schedule!r}."
                )
            check_number(f"--pcm-overrides {model} lr", schedule[0], POSITIVE, integer=False)
            epochs = schedule[1]
            if isinstance(epochs, float) and epochs.is_integer():
                epochs = int(epochs)  # JSON writes 3.0 for a float 3
            check_number(f"--pcm-overrides {model} epochs", epochs, COUNT, integer=True)
