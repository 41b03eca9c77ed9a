"""``python -m zmqlog``: the same as the ``zmqlog`` command."""

import sys

from zmqlog._cli import main

sys.exit(main())
