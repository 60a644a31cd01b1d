"""Headless Chromium for checking ``report.html`` (its tests and benchmark): the system's
``chromium`` driven by Playwright (``pip install playwright``), nothing downloaded at run time."""

from __future__ import annotations

import os
import shutil

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
