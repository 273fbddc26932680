"""``keyguard audit``: the scheduled CI audit (history scan, verify, hygiene, reports) and its cache."""
