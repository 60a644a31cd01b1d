"""Facts two packages each state (a package imports no sibling): they must agree."""

from cam_boxes_iobb.formats.nih import LABEL_ALIASES, NIH_BOX_CLASSES, NIH_CLASSES, NIH_FRAME
from cxr14_data import BOX_CLASSES, CLASSES, NIH_BOX_FRAME
from cxr14_data.labels import LABEL_ALIASES as CXR14_ALIASES


def test_nih_class_lists_and_frame_agree():
    assert NIH_CLASSES == CLASSES
    assert NIH_BOX_CLASSES == BOX_CLASSES
    assert tuple(NIH_FRAME) == tuple(NIH_BOX_FRAME)
    assert LABEL_ALIASES == CXR14_ALIASES
