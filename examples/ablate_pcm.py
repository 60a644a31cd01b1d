"""What the PCM does: retrain only the PCM of a finished run under named SEAM variants
(:mod:`cxr_paper.jobs.ablation`).

    python examples/ablate_pcm.py --run runs/demo                 # every variant, the run's models
    python examples/ablate_pcm.py --run runs/demo --variants paper seam untrained --quick
    python examples/ablate_pcm.py --run runs/study/data0_seed* --variants paper untrained
"""

from cxr_paper.errors import run_main
from cxr_paper.jobs.ablation import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    run_main(lambda: main(get_args_parser().parse_args()))
