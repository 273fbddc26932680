"""Leaked-key incident response for one key: ``keyguard incident KEY``.

The flow, one module each:

* ``needles``    - the byte forms of the leaked value to look for (plain, base64)
  and the chunk matcher (the hot loop: bytes in, offsets out, no I/O);
* (git itself is read through ``keyguard.git``, like every other package);
* ``locate``     - every place the value is: all objects of the store (reachable or
  not), attributed to commits, paths, lines, refs, stashes, reflogs, messages, and
  the working tree;
* ``candidates`` - from a ``kg1:`` fingerprint back to the secret, via the detector;
* ``identify``   - what the FluxLoop API says: live or not, the key record, 30-day usage;
* ``ledger``     - the record of revocations made by keyguard (never revoke twice);
* ``revoke``     - revoking the key when live, after confirmation;
* ``timeline``   - first committed, by whom, last seen, revoked at;
* ``purge``      - the ``git filter-repo`` replacement file, the commands, and ``--purge``
  on a fresh mirror clone followed by a re-scan;

The incident report (``incident.md``, ``incident.json``, the text summary) is
written by ``keyguard.report.incident``, beside every other report.

The values crossing these modules are the frozen dataclasses in ``facts``.
"""
