"""Benchmark plumbing: the date stamp and strict-JSON results files (timing: cxr_paper.timing)."""

from __future__ import annotations

import datetime
from pathlib import Path

from cxr_paper.jsonio import write_json as strict_write


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def write_json(report: dict, path: Path | None) -> None:
    """Write a strict-JSON results file (creating its folder) when a path is given."""
    if path is not None:
        strict_write(report, path)
