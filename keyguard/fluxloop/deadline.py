"""How long the FluxLoop API may keep keyguard waiting: per request and per run.

A socket timeout bounds each read, not a request: a server that trickles one
byte a second never trips it. Here a request's whole exchange (connect,
headers, body) runs under one overall limit (``bounded_call``), and a run's
API work under one ``Deadline`` (``--api-deadline``) that every request, retry
and back-off of the run draws from. Both report a wait that passes
``NOTICE_AFTER`` seconds through a callback (the command prints it on stderr;
this library prints nothing). Other limits on the API (pages, keys, bytes,
Retry-After) build on the same ``Deadline``.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")

NOTICE_AFTER = 2.0
"""Seconds of waiting after which the user is told what keyguard is waiting for."""

Notify = Callable[[str], None]


class Deadline:
    """A point in time the run's API work must finish by (None seconds: no limit)."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._end = None if seconds is None else clock() + seconds

    def remaining(self) -> float:
        """Seconds left (``inf`` without a limit, never below 0)."""
        if self._end is None:
            return float("inf")
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.remaining() <= 0.0

    def limit(self, seconds: float) -> float:
        """``seconds`` cut down to what is left of the deadline."""
        return min(seconds, self.remaining())


class RequestTimeout(TimeoutError):
    """A request did not complete within its overall limit."""


def bounded_call(fn: Callable[[], T], seconds: float, *, notify: Notify | None = None,
                 what: str = "the FluxLoop API") -> T:
    """``fn()`` with an overall limit of ``seconds``; RequestTimeout when it takes longer.

    ``fn`` runs in a daemon thread that is abandoned on timeout (its socket has a
    timeout of its own, so it ends soon after). Past ``NOTICE_AFTER`` seconds,
    ``notify`` is told once what is being waited for.
    """
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="keyguard-api-request", daemon=True)
    worker.start()
    first = min(seconds, NOTICE_AFTER)
    worker.join(first)
    if worker.is_alive() and seconds > first:
        if notify is not None:
            notify(f"waiting for {what} ({first:g}s so far; giving up at {seconds:g}s)")
        worker.join(seconds - first)
    if worker.is_alive():
        raise RequestTimeout(f"timed out after {seconds:g}s (no complete answer)")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
