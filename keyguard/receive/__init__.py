"""``keyguard scan --pre-receive``: push protection on the git server (hook flow, break-glass log)."""
