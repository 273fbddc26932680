"""Sub-commands of ``keyguard``: one module each, ``register(parser)`` + ``run(args)``.

A command module imports only argparse-level things at top level; the work it
does is imported inside ``run`` so that starting one command stays cheap.
"""
