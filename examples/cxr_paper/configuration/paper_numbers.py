"""The published numbers of D'Souza, Reddy & Manjunath (2022), transcribed once from the paper.

Keys use our model names; rows follow ``cxr14_data.CLASSES`` (Table 1's order) and
``cxr14_data.BOX_CLASSES``. Table 1 also lists three earlier works, kept for the report.
"""

from __future__ import annotations

from cxr14_data import BOX_CLASSES, CLASSES

#: The paper's class order (Table 1) and its box classes (Tables 2-3): NIH ChestX-ray14's.
PAPER_CLASSES: tuple[str, ...] = CLASSES
PAPER_BOX_CLASSES: tuple[str, ...] = BOX_CLASSES

# fmt: off
# Table 1: test AUROC per class; the last value of each row is the published mean.
TABLE1_AUROC: dict[str, tuple[float, ...]] = {
    "Wang et al. ResNet50 [1]": (0.700, 0.810, 0.759, 0.661, 0.693, 0.669, 0.658, 0.799, 0.703, 0.805, 0.833, 0.786, 0.684, 0.872, 0.738),
    "Yao et al. multi-res ResNet50 [19]": (0.733, 0.856, 0.806, 0.673, 0.777, 0.718, 0.684, 0.805, 0.711, 0.806, 0.842, 0.743, 0.724, 0.775, 0.761),
    "MobileNetV2 [25]": (0.794, 0.885, 0.876, 0.711, 0.826, 0.743, 0.733, 0.880, 0.790, 0.884, 0.891, 0.762, 0.763, 0.811, 0.810),
    "resnet50": (0.751, 0.868, 0.817, 0.633, 0.796, 0.732, 0.705, 0.844, 0.734, 0.845, 0.925, 0.822, 0.739, 0.935, 0.796),
    "multires_resnet50": (0.752, 0.883, 0.817, 0.627, 0.809, 0.718, 0.701, 0.848, 0.730, 0.844, 0.920, 0.806, 0.761, 0.891, 0.793),
    "efficientnet_b4": (0.738, 0.863, 0.809, 0.643, 0.762, 0.711, 0.659, 0.834, 0.725, 0.835, 0.862, 0.816, 0.741, 0.931, 0.781),
    "multires_efficientnet_b4": (0.743, 0.845, 0.811, 0.617, 0.763, 0.704, 0.673, 0.839, 0.729, 0.828, 0.862, 0.793, 0.726, 0.910, 0.774),
}

# Table 2: localization accuracy at IoBB > 0.1; Table 3: average false positives.
# Keys: (model, with PCM).
TABLE2_ACCURACY: dict[tuple[str, bool], tuple[float, ...]] = {
    ("resnet50", False): (0.428, 0.788, 0.510, 0.220, 0.365, 0.114, 0.242, 0.143),
    ("multires_resnet50", False): (0.378, 0.829, 0.588, 0.122, 0.518, 0.241, 0.208, 0.173),
    ("multires_resnet50", True): (0.450, 0.829, 0.686, 0.195, 0.553, 0.177, 0.275, 0.173),
    ("efficientnet_b4", False): (0.456, 0.795, 0.680, 0.374, 0.271, 0.000, 0.108, 0.204),
    ("multires_efficientnet_b4", False): (0.506, 0.699, 0.660, 0.496, 0.435, 0.203, 0.267, 0.214),
    ("multires_efficientnet_b4", True): (0.278, 0.685, 0.601, 0.390, 0.365, 0.038, 0.242, 0.204),
}
TABLE3_AFP: dict[tuple[str, bool], tuple[float, ...]] = {
    ("resnet50", False): (0.580, 0.115, 0.591, 0.615, 0.276, 0.550, 0.361, 0.355),
    ("multires_resnet50", False): (0.753, 0.130, 0.817, 0.969, 0.360, 0.430, 0.311, 0.384),
    ("multires_resnet50", True): (0.467, 0.106, 0.686, 1.103, 0.292, 0.278, 0.228, 0.302),
    ("efficientnet_b4", False): (0.720, 1.180, 1.018, 0.903, 0.848, 0.773, 0.332, 1.434),
    ("multires_efficientnet_b4", False): (0.443, 0.091, 0.600, 0.755, 0.300, 0.251, 0.199, 0.281),
    ("multires_efficientnet_b4", True): (0.762, 0.394, 0.984, 0.767, 0.403, 0.384, 0.241, 0.331),
}

# fmt: on

# Table 4: inference ms at 256x256x3 on one P100, and parameters (published configuration).
TABLE4: dict[str, tuple[float, int]] = {
    "resnet50": (15.51, 23_536_718),
    "multires_resnet50": (16.93, 26_273_615),
    "efficientnet_b4": (20.29, 17_573_718),
    "multires_efficientnet_b4": (23.46, 18_913_543),
}


def paper_row(name: str) -> str:
    """The paper's model whose numbers sit beside ours: ``multires_resnet18`` -> ``multires_resnet50``.

    Args:
        name: A model name of ours.

    Returns:
        The paper's model of the same family (``resnet50``, ``efficientnet_b4``, either with
        ``multires_``).
    """
    multires = name.startswith("multires_")
    family = "efficientnet_b4" if "efficientnet" in name else "resnet50"
    return f"multires_{family}" if multires else family


def paper_applies(classes: tuple[str, ...], box_classes: tuple[str, ...]) -> bool:
    """Whether a task's class lists are the paper's, so that its columns can stand beside ours.

    Args:
        classes: The task's classes.
        box_classes: Those with boxes.

    Returns:
        Whether both are ChestX-ray14's, in its order.
    """
    return tuple(classes) == PAPER_CLASSES and tuple(box_classes) == PAPER_BOX_CLASSES
