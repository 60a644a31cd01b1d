"""What the synthetic layouts' writers share: a CSV as the sets write theirs, and a label cell."""

from __future__ import annotations

import csv
import math
from pathlib import Path


def label_cell(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.1f}"


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
