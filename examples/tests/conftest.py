import sys
from pathlib import Path

# the example scripts and this folder's helpers import by name, here and in spawned workers
for folder in (Path(__file__).resolve().parents[1], Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
