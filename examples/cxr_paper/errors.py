"""The one exception a run raises for what its user can fix: a bad flag, a missing file, a folder
that is not a run. Deep code raises it; only the scripts' entry points turn it into one line on
stderr and exit status 2, so library callers and tests can catch it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class RunError(Exception):
    """A run cannot start or go on; the message names the flag, file or folder to fix."""


def run_main(main: Callable[[], T]) -> T:
    """Call a script's ``main``; a :class:`RunError` ends the process with its message.

    Example:
        >>> def main():
        ...     raise RunError("--data /nowhere: no such folder")
        >>> run_main(main)
        Traceback (most recent call last):
        SystemExit: 2
    """
    try:
        return main()
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
