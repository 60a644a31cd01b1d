"""Reproduce D'Souza, Reddy & Manjunath (2022) end to end: Tables 1-4, Figures 5-7, a report
(:mod:`cxr_paper.jobs.reproduce`).

    python examples/reproduce_paper.py                       # demo preset on the synthetic set
    python examples/reproduce_paper.py --data /path/to/ChestX-ray14 --preset paper
    python examples/reproduce_paper.py --out runs/paper --resume   # continue an interrupted run
    python examples/reproduce_paper.py --out runs/demo --overwrite  # replace an earlier run
    python examples/reproduce_paper.py --reproducible               # same weights on any x86-64
    torchrun --nproc_per_node=4 examples/reproduce_paper.py --data /path/to/CXR14 --preset paper
"""

from cxr_paper.configuration.cli import get_args_parser
from cxr_paper.errors import run_main
from cxr_paper.jobs.reproduce import main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    run_main(lambda: main(get_args_parser().parse_args()))
