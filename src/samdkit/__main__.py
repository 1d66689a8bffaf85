"""`python -m samdkit` is the same as the `samdkit` command."""

import sys

from samdkit.cli import main

sys.exit(main())
