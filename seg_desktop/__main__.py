"""`python -m seg_desktop` runs the command line (the window without arguments)."""

import sys

from seg_desktop.cli import main

sys.exit(main())
