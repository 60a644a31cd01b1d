"""Run a trained model on X-ray images: a run's model folder, a ``save_pretrained`` folder, a
Hugging Face Hub id or an exported ``.onnx`` file (onnxruntime, no PyTorch model built); the
job is :mod:`cxr_paper.jobs.predict`.

    python examples/predict.py scan1.png scan2.dcm --model runs/demo/multires_resnet10t --out preds
    python examples/predict.py scan.dcm --model model.onnx --out preds --dicom
"""

import sys

from cxr_paper.errors import run_main
from cxr_paper.jobs.predict import get_args_parser, main

__all__ = ["get_args_parser", "main"]

if __name__ == "__main__":
    sys.exit(run_main(lambda: main(get_args_parser().parse_args())))
