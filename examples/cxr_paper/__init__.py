"""The layer that combines this repository's packages into the paper's pipeline and its tools.

One sub-package per responsibility; each script in ``examples/`` parses its arguments and calls
one job of ``jobs``.

- ``jobs``: the commands (reproduce, seed_study, score, ablation, predict, export), one module each.
- ``configuration``: the settings of a run, its command line, the task, the paper's numbers.
- ``inputs``: data loaders and models (this project's, timm's, torchxrayvision's).
- ``learning``: stage 1 (classifier) and stage 2 (PCM with SEAM), resumable.
- ``scoring``: the test split's metrics, map kinds, intervals and training noise.
- ``reporting``: every report as one document (Markdown and HTML), report.html, the figures.
- ``deploy``: the shared model, ONNX, DICOM, operating points and calibration.
- ``files``: atomic writes, checkpoints, results read back, one writer per folder.
- ``machine``: devices, ranks, the reproducible mode, the recorded environment, timing.
- ``errors``: the one error a user can fix (:class:`~cxr_paper.errors.RunError`).
"""
