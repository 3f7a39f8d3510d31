"""`python -m devstack`: run the local stack."""

import sys

from devstack.stack import main

sys.exit(main())
