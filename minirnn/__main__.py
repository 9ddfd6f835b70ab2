"""``python -m minirnn`` runs the command line."""

import sys

from minirnn.cli import main

sys.exit(main())
