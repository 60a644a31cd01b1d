"""A trained model outside the run: the shareable folder and its card, ONNX export and onnxruntime,
DICOM outputs, per-image boxes, and the decisions it makes (operating points, calibration)."""
