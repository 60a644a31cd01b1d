"""NIH ChestX-ray14: metadata readers, paper splits, image decoding, transforms, and a
synthetic data set in the exact NIH layout."""

from cxr14_data.boxes import NIH_BOX_FRAME, box_in_frame, rescale_boxes
from cxr14_data.dataset import ChestXray14, collate
from cxr14_data.images import ImageDecodeError, decode_gray, find_images
from cxr14_data.labels import (
    BOX_CLASSES,
    CLASSES,
    NO_FINDING,
    UnknownLabelError,
    labels_to_vector,
    parse_finding_labels,
)
from cxr14_data.metadata import (
    BoxRecord,
    ImageRecord,
    MetadataError,
    read_bbox_list,
    read_data_entry,
    read_split_list,
)
from cxr14_data.nih_statistics import nih_boxes, nih_label_sets
from cxr14_data.prepared import PreparedStore, StaleStoreError, prepare
from cxr14_data.reading import is_dicom, read_dicom, read_dicom_header, read_image
from cxr14_data.splits import select_train_val
from cxr14_data.stats import dataset_stats
from cxr14_data.synthetic import (
    DIFFICULTIES,
    MULTI_FINDING_SHARE,
    NIH_PREVALENCE,
    SYNTHETIC_PREVALENCE,
    Difficulty,
    make_synthetic,
)
from cxr14_data.transforms import IMAGENET_MEAN, IMAGENET_STD, denormalize, paper_transforms
from cxr14_data.verify import unreadable_images

__all__ = [
    "BOX_CLASSES",
    "CLASSES",
    "DIFFICULTIES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MULTI_FINDING_SHARE",
    "NIH_BOX_FRAME",
    "NIH_PREVALENCE",
    "NO_FINDING",
    "SYNTHETIC_PREVALENCE",
    "BoxRecord",
    "ChestXray14",
    "Difficulty",
    "ImageDecodeError",
    "ImageRecord",
    "MetadataError",
    "PreparedStore",
    "StaleStoreError",
    "UnknownLabelError",
    "box_in_frame",
    "collate",
    "dataset_stats",
    "decode_gray",
    "denormalize",
    "find_images",
    "is_dicom",
    "labels_to_vector",
    "make_synthetic",
    "nih_boxes",
    "nih_label_sets",
    "paper_transforms",
    "parse_finding_labels",
    "prepare",
    "read_bbox_list",
    "read_data_entry",
    "read_dicom",
    "read_dicom_header",
    "read_image",
    "read_split_list",
    "rescale_boxes",
    "select_train_val",
    "unreadable_images",
]
__version__ = "0.1.0"
