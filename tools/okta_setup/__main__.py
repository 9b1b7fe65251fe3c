"""`python -m okta_setup plan|apply|check`."""

import sys

from okta_setup.cli import main

sys.exit(main())
