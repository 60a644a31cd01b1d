"""Score any classifier's localization on a ChestX-ray14 folder's boxes (or the synthetic set):
this project's models (PyTorch or exported ONNX), a timm model or a torchxrayvision DenseNet,
with any CAM method (:mod:`cxr_paper.jobs.score`).

    python examples/score_model.py --model runs/demo/multires_resnet10t --methods cam gradcam
    python examples/score_model.py --model model.onnx --data synthetic
    python examples/score_model.py --model timm:resnet50 --weights timm --methods gradcam \\
        --data /path/to/ChestX-ray14 --image-size 256
    python examples/score_model.py --model xrv:densenet121-res224-nih --methods gradcam++ \\
        --data /path/to/ChestX-ray14 --image-size 224
"""

from cxr_paper.errors import run_main
from cxr_paper.jobs.score import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    run_main(lambda: main(get_args_parser().parse_args()))
