"""``python -m cam_boxes_iobb score|convert`` (see :mod:`cam_boxes_iobb.cli`)."""

import sys

from cam_boxes_iobb.cli import main

if __name__ == "__main__":
    sys.exit(main())
