"""python -m fediverse_share: the same as the fediverse-share command."""

from fediverse_share.cli import main

raise SystemExit(main())
