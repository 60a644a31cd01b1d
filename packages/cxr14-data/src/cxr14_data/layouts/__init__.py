"""Chest X-ray data sets in their published layouts, read into one :class:`LabelTable` each:
images, patients, views, the set's own labels and splits, and the policies that turn uncertain
and blank labels into training targets."""

from cxr14_data.layouts.chexlocalize import CHEXLOCALIZE_CLASSES, read_chexlocalize
from cxr14_data.layouts.chexpert import CHEXPERT_CLASSES, read_chexpert
from cxr14_data.layouts.coco_rle import encode_rle
from cxr14_data.layouts.dataset import LayoutDataset
from cxr14_data.layouts.mimic import read_mimic
from cxr14_data.layouts.policies import BlankPolicy, UncertaintyPolicy, apply_policy
from cxr14_data.layouts.rsna import RSNA_CLASSES, read_rsna
from cxr14_data.layouts.siim import SIIM_CLASSES, read_siim
from cxr14_data.layouts.synthetic_layouts import LAYOUTS, make_synthetic_layout
from cxr14_data.layouts.synthetic_plan import LAYOUT_CLASSES
from cxr14_data.layouts.table import FRONTAL_VIEWS, LATERAL, LabelTable
from cxr14_data.layouts.vindr import (
    VINDR_CLASSES,
    ReaderRule,
    read_vindr_kaggle,
    read_vindr_physionet,
)
from cxr14_data.layouts.vocabulary import Counterparts, counterparts, vocabulary, vocabulary_set

__all__ = [
    "CHEXLOCALIZE_CLASSES",
    "CHEXPERT_CLASSES",
    "FRONTAL_VIEWS",
    "LATERAL",
    "LAYOUTS",
    "LAYOUT_CLASSES",
    "RSNA_CLASSES",
    "SIIM_CLASSES",
    "VINDR_CLASSES",
    "BlankPolicy",
    "Counterparts",
    "LabelTable",
    "LayoutDataset",
    "ReaderRule",
    "UncertaintyPolicy",
    "apply_policy",
    "counterparts",
    "encode_rle",
    "make_synthetic_layout",
    "read_chexlocalize",
    "read_chexpert",
    "read_mimic",
    "read_rsna",
    "read_siim",
    "read_vindr_kaggle",
    "read_vindr_physionet",
    "vocabulary",
    "vocabulary_set",
]
