"""Entry point of `python -m okta_local`."""

from okta_local.cli import main

raise SystemExit(main())
