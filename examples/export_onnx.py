"""Export a saved model (classifier + PCM) to one ONNX graph and check it against PyTorch
(:mod:`cxr_paper.jobs.export`).

    python examples/export_onnx.py --model runs/demo/multires_resnet10t --out model.onnx
    python examples/export_onnx.py --model runs/demo/resnet10t --out b8.onnx --batch-size 8
"""

from cxr_paper.errors import run_main
from cxr_paper.jobs.export import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    run_main(lambda: main(get_args_parser().parse_args()))
