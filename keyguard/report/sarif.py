"""The SARIF 2.1.0 report, shaped for GitHub code scanning.

One run per kind of scan, told apart by ``automationDetails.id``
(``keyguard/<kind>/``; hygiene findings go to their own ``keyguard/hygiene/``
run). Rules are listed once per rule id that appears. Each leaked-key result
points at its file with a repo-relative ``%SRCROOT%`` URI (history findings
too) and carries partial fingerprints that survive moved lines:
``primaryLocationLineHash`` (see ``linehash``) and
``keyguardSecretFingerprint/v1``. Hygiene results are about a key, not a
file: a logical location names the key (kind ``resource``, ``tenant/key-id``).
GitHub rejects a whole upload when any result lacks a physical location
(``locationFromSarifResult: expected artifact location``, github/codeql-action
#1738 and #2459), so they also carry a synthetic, stable one:
``fluxloop-keys/<tenant>/<key-id>`` (see ``HYGIENE_ANCHOR``), line 1. Every
physical location has a region, as GitHub's ingestion rules want (Microsoft's
SARIF Multitool, ``validate --rule-kind "Gh;Sarif"``, rule SARIF2017;
``bench/sarif_check.sh`` runs it on every SARIF keyguard writes).

The secret never appears here, not even with ``show_secrets``: SARIF files are
uploaded and shown to everyone who can read the repository's alerts.

GitHub accepts at most 25,000 results per run and 10 MB per file. Beyond that
the most severe results are kept, a warning notification says what was
dropped, and the same warning is appended to ``report.warnings`` (and the
number dropped put in ``report.stats["sarif_dropped_results"]``) so the CLI
can say it on stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, TextIO
from urllib.parse import quote

from keyguard import __version__
from keyguard.model import Finding, HygieneFinding, ScanReport, Severity
from keyguard.report.interface import ReportOptions
from keyguard.report.linehash import LineHasher
from keyguard.report.summary import (FIX_STEPS, HISTORY_FIX, SecretGuard, ordered, ordered_hygiene,
                                     provenance_phrase, revocation_phrase, verification_phrase)

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/fluxloop/keyguard"
"""Where the tool is documented (``tool.driver.informationUri``)."""
MAX_RESULTS = 25_000
"""GitHub code scanning's limit of results per run."""
MAX_BYTES = 10 * 1000 * 1000
"""GitHub code scanning's limit on the uploaded file (10 MB; kept decimal to be safe)."""
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "keyguardSecretFingerprint/v1"
HYGIENE_FINGERPRINT_KEY = "keyguardHygieneFingerprint/v1"
TAGS = ["security", "secret"]
HYGIENE_ANCHOR = "fluxloop-keys"
"""First segment of the synthetic path hygiene results point at (no such file exists)."""

HYGIENE_CHECKS = {
    "never-used": "FluxLoop key that has never been used",
    "unused": "FluxLoop key not used for a long time",
    "never-expires": "FluxLoop key without an expiry date",
    "service-account-never-expires": "FluxLoop service-account key without an expiry date",
    "expires-soon": "FluxLoop key that expires soon",
    "expired-not-revoked": "FluxLoop key that has expired but is not revoked",
    "rotation-overdue": "FluxLoop key older than the rotation period",
    "over-broad": "FluxLoop key with more permissions or projects than it needs",
    "can-manage-keys": "FluxLoop key that may create and revoke the tenant's keys",
    "revoked": "Revoked FluxLoop key (inventory)",
}
"""Rule descriptions of the hygiene checks keyguard knows; others get a generic one."""


@dataclass(frozen=True)
class _Item:
    """A leaked-key finding or a hygiene finding waiting to become a SARIF result."""

    severity: Severity
    finding: Finding | None = None
    hygiene: HygieneFinding | None = None


def write(report: ScanReport, stream: TextIO, options: ReportOptions) -> None:
    """Write ``report`` as a SARIF 2.1.0 log within GitHub's limits."""
    stream.write(dumps(report, options))
    stream.write("\n")


def dumps(report: ScanReport, options: ReportOptions = ReportOptions(), *,
          max_results: int = MAX_RESULTS, max_bytes: int = MAX_BYTES) -> str:
    """The SARIF log as text; keeps the worst results when over ``max_results``/``max_bytes``."""
    guard = SecretGuard(report, show_secrets=False)
    planned = _plan_runs(report)
    total = sum(len(items) for _, items in planned)
    runs = [_build_run(report, category, items[:max_results], guard) for category, items in planned]
    # a truncation warning left by an earlier write of this report is recomputed, not repeated
    warnings = [guard.any(w) for w in report.warnings if not w.startswith(_TRUNCATED)]
    cuts = [len(r.results) for r in runs]
    text = _render(report, runs, cuts, warnings, total, guard, indent=2)
    if len(text.encode("utf-8")) > max_bytes:
        text = _render(report, runs, cuts, warnings, total, guard, indent=None)
        if len(text.encode("utf-8")) > max_bytes:
            cuts = _fit(report, runs, warnings, total, guard, max_bytes)
            text = _render(report, runs, cuts, warnings, total, guard, indent=None)
    dropped = total - sum(cuts)
    if dropped:
        report.warnings[:] = [w for w in report.warnings if not w.startswith(_TRUNCATED)]
        report.warnings.append(_truncation_message(total, total - dropped))
        report.stats["sarif_dropped_results"] = dropped
    return text


def to_dict(report: ScanReport, options: ReportOptions = ReportOptions()) -> dict[str, Any]:
    """The SARIF log as JSON-ready data (limits applied)."""
    return json.loads(dumps(report, options))


# ---------------------------------------------------------------- planning and limits

@dataclass
class _Run:
    """One run's parts, built once; a prefix of ``results`` is what gets written."""

    category: str
    rules: list[dict[str, Any]]
    results: list[dict[str, Any]]
    ranks: list[int]
    """Severity rank of each result (results are worst first)."""


def _plan_runs(report: ScanReport) -> list[tuple[str, list[_Item]]]:
    """``[(category, items worst first)]``: the scan's run, and a hygiene run when there is one."""
    leaks = [_Item(f.severity, finding=f) for f in ordered(report.findings)]
    health = [_Item(h.severity, hygiene=h) for h in ordered_hygiene(report.hygiene)]
    if report.kind == "hygiene":
        return [("keyguard/hygiene/", leaks + health)]
    runs = [(f"keyguard/{report.kind or 'scan'}/", leaks)]
    # A hygiene check that ran and found nothing still gets its (empty) run, so that
    # GitHub closes the alerts of keys that have been fixed since the last upload.
    if health or "keys" in report.stats:
        runs.append(("keyguard/hygiene/", health))
    return runs


def _fit(report, runs: list[_Run], warnings, total, guard, max_bytes) -> list[int]:
    """How many results of each run fit in ``max_bytes`` (compact), worst first across runs."""
    placeholder = _truncation_message(total, total)
    fixed = len(_render(report, runs, [0] * len(runs), warnings + [placeholder], 0, guard,
                        indent=None, all_rules=True).encode("utf-8"))
    budget = max_bytes - fixed - 1024  # slack: the final message and separators
    order = sorted((-rank, n, i) for n, run in enumerate(runs) for i, rank in enumerate(run.ranks))
    cuts = [0] * len(runs)
    for _, n, i in order:
        size = len(json.dumps(runs[n].results[i], ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8")) + 1
        if size > budget or i != cuts[n]:
            break
        budget -= size
        cuts[n] += 1
    return cuts


_TRUNCATED = "SARIF report truncated:"


def _truncation_message(total: int, shown: int) -> str:
    return (f"{_TRUNCATED} kept the {shown} most severe of {total} results "
            f"(GitHub code scanning accepts at most {MAX_RESULTS:,} results per run and "
            f"{MAX_BYTES // 1_000_000} MB per file); the JSON report has all of them")


# ---------------------------------------------------------------- building the log

def _render(report, runs: list[_Run], cuts: list[int], warnings: list[str], total: int,
            guard: SecretGuard, indent: int | None, all_rules: bool = False) -> str:
    """The log text with the first ``cuts[n]`` results of each run."""
    shown = sum(cuts)
    notes = list(warnings)
    if total > shown:
        notes.append(_truncation_message(total, shown))
    out = []
    for run, cut in zip(runs, cuts):
        results = run.results[:cut]
        n_rules = len(run.rules) if all_rules else max((r["ruleIndex"] + 1 for r in results), default=0)
        out.append(_run(report, run.category, run.rules[:n_rules], results, notes, guard,
                        len(run.results) - cut))
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": out}
    if indent:
        return json.dumps(log, indent=indent, ensure_ascii=False)
    return json.dumps(log, ensure_ascii=False, separators=(",", ":"))


def _build_run(report: ScanReport, category: str, items: list[_Item], guard: SecretGuard) -> _Run:
    """Rules (in order of first use, so any prefix of results needs a prefix of rules) and results."""
    worst: dict[str, Severity] = {}
    first: dict[str, _Item] = {}
    for item in items:
        rid = _rule_id(item)
        first.setdefault(rid, item)
        if rid not in worst or item.severity.rank > worst[rid].rank:
            worst[rid] = item.severity
    index = {rid: n for n, rid in enumerate(first)}
    rules = [_rule(item, worst[rid]) for rid, item in first.items()]
    hasher = LineHasher()
    results = [_leak_result(i.finding, index, guard, hasher) if i.finding
               else _hygiene_result(i.hygiene, index, report.tenant) for i in items]
    return _Run(category, rules, results, [i.severity.rank for i in items])


def _run(report: ScanReport, category: str, rules: list[dict[str, Any]],
         results: list[dict[str, Any]], notes: list[str], guard: SecretGuard,
         dropped: int) -> dict[str, Any]:
    invocation: dict[str, Any] = {
        # a step the run was asked for and could not do makes the run unsuccessful, with the reason
        "executionSuccessful": not report.incomplete,
        "toolExecutionNotifications": [
            {"level": "error", "message": {"text": guard.any(f"{step} not done: {why}")},
             "descriptor": {"id": f"keyguard/{step}"}} for step, why in report.incomplete] + [
            {"level": "warning", "message": {"text": note}} for note in notes],
    }
    if report.command:
        invocation["commandLine"] = guard.any(report.command)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "keyguard", "version": __version__,
                            "semanticVersion": __version__, "informationUri": INFORMATION_URI,
                            "rules": rules}},
        "automationDetails": {"id": category},
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {"kind": report.kind, "allowed": report.allowed,
                       "baselined": report.baselined, "suppressed": len(report.suppressed),
                       "staleBaseline": report.stale_baseline, "droppedResults": dropped,
                       "stats": dict(sorted(report.stats.items())), "policy": dict(report.policy),
                       # a shallow clone holds part of history: the run saw only that part
                       "shallowClone": bool(report.stats.get("shallow"))},
    }
    root = _root_uri(report.root)
    if root:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": root}}
    return run


def _rule_id(item: _Item) -> str:
    return item.finding.rule_id if item.finding else f"hygiene/{item.hygiene.check}"


def _rule(item: _Item, worst: Severity) -> dict[str, Any]:
    """The ``reportingDescriptor`` of ``item``'s rule; ``worst`` is the worst severity seen for it."""
    rule_id = _rule_id(item)
    if item.finding:
        f = item.finding
        short = f.description or rule_id
        full = (f"{short}. A FluxLoop credential committed to git can be used by anyone who can "
                f"read the repository or its history.")
        own = f.remediation.strip()
        steps = ([own] if own else []) + list(FIX_STEPS)
        text = "\n".join(f"{n}. {s}" for n, s in enumerate(steps, 1)) + "\n" + HISTORY_FIX
        markdown = (f"**{_md(short)}**\n\n" + "\n".join(f"{n}. {_md(s)}" for n, s in enumerate(steps, 1))
                    + f"\n\n{_md(HISTORY_FIX)}")
        tags = TAGS
    else:
        check = item.hygiene.check
        short = HYGIENE_CHECKS.get(check, f"FluxLoop key hygiene check: {check}")
        full = (f"{short}. Unhealthy keys widen the damage a leak can do; "
                f"keyguard's hygiene report lists them per key.")
        text = ("Review the key: revoke it if nobody needs it, give it an expiry date, "
                "and narrow its permissions and projects to what its user needs.")
        markdown = _md(text)
        tags = TAGS + ["hygiene"]
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.replace("/", "-").split("-") if part),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": worst.sarif_level},
        "properties": {"security-severity": worst.security_severity, "tags": list(tags),
                       "precision": "high", "problem.severity": _problem_severity(worst)},
    }


def _leak_result(f: Finding, index: dict[str, int], guard: SecretGuard,
                 hasher: LineHasher) -> dict[str, Any]:
    uri = _uri(f.path)
    snippet = guard.finding(f, f.snippet)
    message = f"{f.description or f.rule_id}: {f.redacted} ({f.rule_id})"
    if f.encoding:
        message += f", {f.encoding}-encoded"
    if f.provenance:
        message += f", {provenance_phrase(f.provenance)}"
    if f.verification:
        message += f"; verified {verification_phrase(f.verification)}"
    if f.revocation:
        message += f"; revocation {revocation_phrase(f.revocation)}"
    location: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": SRCROOT}}
    if f.line >= 1:
        start = max(1, f.column)
        region: dict[str, Any] = {"startLine": f.line, "startColumn": start,
                                  "endColumn": max(start, f.end_column),
                                  "snippet": {"text": f.redacted}}
        location["region"] = region
        if snippet:
            location["contextRegion"] = {"startLine": f.line, "snippet": {"text": snippet}}
    else:  # no line known (a name, a message): GitHub's rules (SARIF2017) still want a region
        location["region"] = {"startLine": 1}
    props: dict[str, Any] = {"fingerprint": f.fingerprint, "severity": f.severity.value,
                             "source": f.source, "redacted": f.redacted}
    if f.encoding:
        props["encoding"] = f.encoding
    if f.provenance:
        p = f.provenance
        props.update({"commit": p.commit, "author": p.author, "date": p.date,
                      "provenanceKind": p.kind, "presentAtHead": p.present_at_head})
        if p.refs:
            props["refs"] = list(p.refs)
    if f.verification:
        v = f.verification
        props["verification"] = v.status
        props.update({k: val for k, val in (("keyId", v.key_id), ("keyName", v.name),
                                            ("permissions", list(v.permissions))) if val})
    if f.revocation:
        props["revocation"] = f.revocation.outcome
    if f.is_new is not None:
        props["isNew"] = f.is_new
    return {
        "ruleId": f.rule_id,
        "ruleIndex": index[f.rule_id],
        "level": f.severity.sarif_level,
        "message": {"text": guard.finding(f, message)},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {
            "primaryLocationLineHash": hasher(uri, snippet or f.redacted, f.rule_id, f.fingerprint),
            FINGERPRINT_KEY: f.fingerprint,
        },
        "properties": props,
    }


def _hygiene_result(h: HygieneFinding, index: dict[str, int], tenant: str) -> dict[str, Any]:
    rule_id = f"hygiene/{h.check}"
    k = h.key
    label = f'"{k.name}" ({k.id})' if k.name else k.id
    identity = hashlib.sha256(f"{h.check}\0{k.id}".encode("utf-8")).hexdigest()[:32]
    props: dict[str, Any] = {"check": h.check, "severity": h.severity.value, "keyId": k.id}
    props.update({name: val for name, val in (("keyName", k.name), ("keyHint", k.key_hint),
                                              ("owner", k.created_by), ("type", k.type),
                                              ("permissions", list(k.permissions)),
                                              ("projects", list(k.projects))) if val})
    return {
        "ruleId": rule_id,
        "ruleIndex": index[rule_id],
        "level": h.severity.sarif_level,
        "message": {"text": f"{h.message} (key {label})" if h.message else f"{h.check}: key {label}"},
        "locations": [{
            # a region, though no such file exists: GitHub's ingestion rules (SARIF2017) want one
            "physicalLocation": {"artifactLocation": {"uri": _anchor_uri(tenant, k.id),
                                                      "uriBaseId": SRCROOT},
                                 "region": {"startLine": 1}},
            "logicalLocations": [{
                "kind": "resource", "name": k.id,
                "fullyQualifiedName": f"{tenant}/{k.id}" if tenant else k.id}]}],
        "partialFingerprints": {HYGIENE_FINGERPRINT_KEY: identity},
        "properties": props,
    }


# ---------------------------------------------------------------- small helpers

def _uri(path: str) -> str:
    """Repo-relative URI: forward slashes, no ``./``, percent-encoded (``<stdin>`` stays usable)."""
    p = path.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return quote(p.lstrip("/"), safe="/")


def _anchor_uri(tenant: str, key_id: str) -> str:
    """``fluxloop-keys/<tenant>/<key-id>``, each part percent-encoded (slashes too)."""
    parts = [HYGIENE_ANCHOR] + [quote(p, safe="") for p in (tenant, key_id) if p]
    return "/".join(parts)


def _root_uri(root: str) -> str:
    """``file:///abs/root/`` for ``originalUriBaseIds``, or "" when unknown."""
    if not root:
        return ""
    if os.name == "nt" or PureWindowsPath(root).drive:
        uri = PureWindowsPath(root).as_uri()
    else:
        posix = PurePosixPath(root)
        if not posix.is_absolute():
            return ""
        uri = posix.as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _problem_severity(s: Severity) -> str:
    return {"error": "error", "warning": "warning"}.get(s.sarif_level, "recommendation")


def _md(text: str) -> str:
    """Plain text made safe inside Markdown (help.markdown)."""
    out = []
    for ch in text:
        out.append("\\" + ch if ch in "\\`*_[]<>|#" else ch)
    return "".join(out)
