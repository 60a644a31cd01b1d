"""Benchmark plumbing: the date stamp and strict-JSON results files (timing:
cxr_paper.machine.timing)."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

from cxr_paper.files.jsonio import write_json as strict_write

#: The tests' helpers (``browser.py``: headless Chromium), shared with ``report_html.py``; they are
#: not part of the installed ``cxr_paper``.
TEST_HELPERS = Path(__file__).resolve().parents[1] / "examples" / "tests"
#: ``dicom_writer.py``: a DICOM file of given pixels (cxr14-data's tests), for loader_speed.py.
DATA_TEST_HELPERS = Path(__file__).resolve().parents[1] / "packages" / "cxr14-data" / "tests"
for helpers in (TEST_HELPERS, DATA_TEST_HELPERS):
    if str(helpers) not in sys.path:
        sys.path.append(str(helpers))


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def write_json(report: dict, path: Path | None) -> None:
    """Write a strict-JSON results file (creating its folder) when a path is given."""
    if path is not None:
        strict_write(report, path)
