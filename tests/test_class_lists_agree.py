"""cxr14-data (labels) and cam-boxes-iobb (boxes and masks) each name a data set's classes (a
package imports no sibling): the names agree where both read the same release, and the Kaggle
VinDr-CXR release's boxed classes are among the PhysioNet release's local labels."""

import cam_boxes_iobb.formats as boxes
import cxr14_data.layouts as labels


def test_rsna_and_siim_name_their_class_alike():
    assert labels.RSNA_CLASSES == boxes.RSNA_CLASSES
    assert labels.SIIM_CLASSES == boxes.SIIM_CLASSES


def test_vindr_kaggle_boxes_are_physionet_local_labels():
    boxed = [c for c in labels.VINDR_CLASSES if c != "No finding"]
    assert set(boxed) <= set(boxes.VINDR_CLASSES)


def test_the_vocabulary_names_chexlocalizes_classes_as_its_reader_does():
    named = {e.name for e in labels.vocabulary() if e.set == "chexlocalize"}
    assert named == set(boxes.CHEXLOCALIZE_CLASSES)


def test_chexlocalize_is_named_alike():
    assert labels.CHEXLOCALIZE_CLASSES == boxes.CHEXLOCALIZE_CLASSES
