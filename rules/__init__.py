"""The bundled rule packs (``*.toml``); installed as the ``keyguard.rules`` package."""
