"""Lets ``python -m keyguard`` behave like the ``keyguard`` command."""

from keyguard.cli import main

raise SystemExit(main())
