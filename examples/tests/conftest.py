import os
import sys
from pathlib import Path

import pytest

# the example scripts and this folder's helpers import by name, here and in spawned workers
for folder in (Path(__file__).resolve().parents[1], Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

#: Fixtures that train models end to end: every test that uses one is ``slow``.
PIPELINE_FIXTURES = {"smoke_run", "two_runs"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PIPELINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One smoke-preset run shared by every test that reads it (copy it before changing it):
    ``(run folder, report.md)``."""
    import reproduce_paper
    import write_audit

    from cxr_paper.configuration.cli import get_args_parser

    out = tmp_path_factory.mktemp("smoke")
    args = get_args_parser().parse_args(["--preset", "smoke", "--out", str(out)])
    with write_audit.audited_writes() as writes:  # read by test_output_folders.py
        report = reproduce_paper.main(args)
    write_audit.SMOKE_RUN_WRITES[:] = writes
    return out, report


#: Set by ``nox -s tests`` (and so by CI), which installs every test dependency: a missing one
#: is then a failure, not a skip that would leave CI green with the tests unrun.
REQUIRE_ENV = "CXR_REQUIRE_TEST_DEPENDENCIES"


def skip_or_fail(reason: str) -> None:
    """Skip, saying why; or fail when the session promised every test dependency."""
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set: this session installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    """The headless Chromium's path (skips, or fails under :data:`REQUIRE_ENV`, without it)."""
    from browser import chromium_path, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(f"no browser: {reason}")
    return chromium_path()


@pytest.fixture
def xrv():
    """torchxrayvision (skips, or fails under :data:`REQUIRE_ENV`, without it)."""
    try:
        import torchxrayvision
    except ImportError:
        skip_or_fail("torchxrayvision is not installed")
    return torchxrayvision


def _required(module: str):
    """``module`` imported, or a skip (a failure under :data:`REQUIRE_ENV`) naming it."""
    try:
        return __import__(module)
    except ImportError:
        skip_or_fail(f"{module} is not installed")


@pytest.fixture(scope="session")
def torchmetrics():
    """torchmetrics (a reference implementation for some metrics)."""
    module = _required("torchmetrics")
    __import__("torchmetrics.classification")
    return module


@pytest.fixture(scope="session")
def onnxruntime():
    """onnxruntime and onnx (the ``deploy`` extra)."""
    _required("onnx")
    return _required("onnxruntime")


@pytest.fixture(scope="session")
def highdicom():
    """highdicom (the ``deploy`` extra)."""
    return _required("highdicom")
