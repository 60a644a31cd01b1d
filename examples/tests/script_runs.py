"""reproduce_paper.py in a subprocess, optionally SIGKILLed by one of its fault-injection hooks."""

import os
import subprocess
import sys
from pathlib import Path

from cxr_paper.machine.runtime import KILL_AFTER_MODELS_ENV, KILL_AT_STEP_ENV

SCRIPT = Path(__file__).resolve().parents[1] / "reproduce_paper.py"


def run_reproduce_paper(
    flags: list[str], kill: tuple[str, int] | None = None, timeout: int = 900
) -> subprocess.CompletedProcess:
    """Run the script with ``flags``; ``kill=(KILL_..._ENV, count)`` arms one hook."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for variable in (KILL_AT_STEP_ENV, KILL_AFTER_MODELS_ENV):
        env.pop(variable, None)
    if kill is not None:
        env[kill[0]] = str(kill[1])
    command = [sys.executable, str(SCRIPT), *flags]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
