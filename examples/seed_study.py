"""Train and evaluate one preset over several seeds, then aggregate: how much of each number is
noise (:mod:`cxr_paper.jobs.seed_study`).

    python examples/seed_study.py --out runs/study --seeds 0 1 2                 # the demo preset
    python examples/seed_study.py --out runs/study --seeds 0 1 2 --data-seeds 0 1 -- --epochs 4
    python examples/seed_study.py --out runs/study --seeds 0 1 2 --aggregate-only
"""

import sys

from cxr_paper.errors import run_main
from cxr_paper.jobs.seed_study import get_args_parser, main, parse_command_line

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    run_main(lambda: main(*parse_command_line(sys.argv[1:])))
