"""`python -m dppdl` runs the command line."""

import sys

from dppdl.cli import main

sys.exit(main())
