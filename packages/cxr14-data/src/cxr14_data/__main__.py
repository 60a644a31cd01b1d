import sys

from cxr14_data.cli import main

sys.exit(main())
