import sys
from pathlib import Path

# metric_worker is imported by name, here and in the processes the DDP test spawns
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
