"""Headless Chromium for the report tests: Debian's ``chromium`` driven by Playwright, nothing
downloaded at run time; ``None`` with the reason when either cannot be had."""

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
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def unavailable_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; .ci/run installs it)"
    if chromium_path() is None:
        return "no chromium executable (apt-get install chromium, or set CHROMIUM=/path)"
    return None
