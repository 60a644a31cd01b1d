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
