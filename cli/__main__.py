"""``python -m cli …`` is ``lotse …``."""

import sys

from cli.main import main

sys.exit(main())
