"""Headless Chromium for checking ``report.html`` (its tests and ``benchmarks/report_html.py``):
the system's ``chromium`` driven by Playwright (``pip install playwright``), nothing downloaded at
run time. A test helper: not part of ``cxr_paper``."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Flags for a sandboxed CI machine without network (no background connections, no GPU).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """``$CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH."""
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def unavailable_reason() -> str | None:
    """Why a headless browser cannot be had here, or ``None`` when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; .ci/run installs it)"
    if chromium_path() is None:
        return "no chromium executable (apt-get install chromium, or set CHROMIUM=/path)"
    return None


@contextlib.contextmanager
def open_report(path: Path, chromium: str, **page_options: Any) -> Iterator[tuple[Any, list[str]]]:
    """``report.html`` at ``path`` loaded in headless Chromium until its first image is drawn:
    ``(page, errors)``, ``errors`` collecting console errors, page errors and dialogs."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(**{"viewport": {"width": 1400, "height": 950}, **page_options})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: errors.append(f"dialog {d.message}"))
            page.goto(Path(path).resolve().as_uri())
            page.wait_for_selector("#panels figure canvas")
            yield page, errors
        finally:
            browser.close()
