"""The command-line side of the API: the shared options and the client built from them.

``add_api_options(parser)`` adds ``--api-key``, ``--profile``, ``--api-endpoint``,
``--api-timeout`` and ``--api-retries`` to any parser or argument group;
``client_from_args(args)`` resolves the operator credential (printing its
warnings on stderr) and returns a ``FluxLoopClient``. This module imports only
argparse-level things at top level so registering a command stays cheap.
"""

from __future__ import annotations

import argparse


def bounded(cast, low, high, unit: str, *, low_open: bool = False):
    """An argparse type: ``cast(text)`` within ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {unit}, got {text!r}") from None
        if value < low or value > high or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"expected {unit} from {low}{' (exclusive)' if low_open else ''} "
                                             f"to {high}")
        return value
    return parse


_positive_float = bounded(float, 0, 600, "seconds", low_open=True)
_attempts = bounded(int, 1, 20, "a whole number of attempts")


def add_api_options(parser) -> None:
    """Add the operator-credential and connection options (a parser or an argument group)."""
    parser.add_argument("--api-key", metavar="KEY",
                        help="operator credential (else FLUXLOOP_API_KEY, FLUXLOOP_TOKEN, then "
                             "~/.fluxloop/credentials); visible in shell history, prefer the environment")
    parser.add_argument("--profile", metavar="NAME",
                        help="profile of ~/.fluxloop/credentials (else FLUXLOOP_PROFILE, else the "
                             "file's default_profile, else 'default')")
    parser.add_argument("--api-endpoint", metavar="URL",
                        help="API base URL (else FLUXLOOP_API_ENDPOINT, else the profile's, "
                             "else https://api.fluxloop.ai)")
    parser.add_argument("--api-timeout", metavar="SECONDS", type=_positive_float, default=None,
                        help="timeout of each API request (default: 10)")
    parser.add_argument("--api-retries", metavar="N", type=_attempts, default=None,
                        help="attempts per API request on 5xx, 429, resets and timeouts (default: 4)")


def warn_key_on_command_line(what: str, instead: str) -> None:
    """Say on stderr that a key given as an argument is readable by other local users (``ps``)."""
    import sys

    print(f"keyguard: warning: {what} was given on the command line, where other users of this "
          f"machine can read it (ps, /proc); {instead}", file=sys.stderr)


def client_from_args(args: argparse.Namespace, *, require_operator: bool = True):
    """A ``FluxLoopClient`` from parsed options; CredentialError now if an operator is required and absent.

    With ``require_operator=False`` (verifying found keys needs no operator) a
    missing or broken credential is kept on the client and raised only when an
    operator call is made.
    """
    from keyguard.fluxloop.client import FluxLoopClient, RetryPolicy
    from keyguard.fluxloop.credentials import print_warnings, resolve

    if getattr(args, "api_key", None):
        warn_key_on_command_line("--api-key", "set FLUXLOOP_API_KEY in the environment or use a "
                                              "profile of ~/.fluxloop/credentials instead")
    settings = resolve(api_key=getattr(args, "api_key", None), profile=getattr(args, "profile", None),
                       api_endpoint=getattr(args, "api_endpoint", None))
    print_warnings(settings)
    if require_operator and settings.credential is None:
        raise settings.error  # type: ignore[misc]  # resolve() always sets one of the two
    policy = RetryPolicy()
    timeout = getattr(args, "api_timeout", None)
    retries = getattr(args, "api_retries", None)
    if timeout is not None or retries is not None:
        from dataclasses import replace
        policy = replace(policy, timeout=timeout or policy.timeout, max_attempts=retries or policy.max_attempts)
    return FluxLoopClient.from_settings(settings, policy)
