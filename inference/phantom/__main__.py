"""``python -m inference.phantom``."""

from inference.phantom.cli import main

raise SystemExit(main())
