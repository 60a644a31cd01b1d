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

    from cxr_paper.cli import get_args_parser

    out = tmp_path_factory.mktemp("smoke")
    args = get_args_parser().parse_args(["--preset", "smoke", "--out", str(out)])
    return out, reproduce_paper.main(args)
