"""The one exception a run raises for what its user can fix: a bad flag, a missing file, a folder
that is not a run. Deep code raises it; only the scripts' entry points turn it into one line on
stderr and exit status 2, so library callers and tests can catch it. The packages' own errors
for bad input (:data:`USER_ERRORS`: a damaged image, annotation or maps file, a stale prepared
store, ...) and a full disk end a script the same way."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from typing import TypeVar

from cam_boxes_iobb import AnnotationError, MapsError, ScoreError
from cxr14_data import ImageDecodeError, MetadataError, StaleStoreError, UnknownLabelError
from multires_backbone import PretrainedWeightsError

T = TypeVar("T")


class RunError(Exception):
    """A run cannot start or go on; the message names the flag, file or folder to fix."""


#: The packages' errors that name a file or value the user can fix: one line, exit 2.
USER_ERRORS: tuple[type[Exception], ...] = (
    AnnotationError,
    ImageDecodeError,
    MapsError,
    MetadataError,
    PretrainedWeightsError,
    ScoreError,
    StaleStoreError,
    UnknownLabelError,
)


def run_main(main: Callable[[], T]) -> T:
    """Call a script's ``main``; a :class:`RunError` ends the process with its message.

    Args:
        main: The script's entry point.

    Returns:
        What ``main`` returns.

    Raises:
        SystemExit: With status 2, after printing a :class:`RunError`'s message.

    Examples:
        >>> def main():
        ...     raise RunError("--data /nowhere: no such folder")
        >>> run_main(main)
        Traceback (most recent call last):
        SystemExit: 2
    """
    try:
        return main()
    except (RunError, *USER_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = error.filename or "the output folder"
        print(f"error: {where}: no space left on the device; free some and rerun.", file=sys.stderr)
        raise SystemExit(2) from None
