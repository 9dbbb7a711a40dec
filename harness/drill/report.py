"""report.json: the record of a drill (scenario as run, seed, versions, timeline, metrics,
findings, lost operations, the history's path), and the small measurements it needs."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berkeleydb import db

from harness import __version__
from harness.checker.databases import items, scratch_copy
from harness.checker.run import run_check
from harness.errors import ConfigSyntaxError, FiredrillError
from harness.faults.record import FaultRecord
from harness.layout import Layout
from harness.manifest import summarize
from harness.procedures import BackupRecord
from harness.report import write_outputs
from harness.store import config as configdb
from harness.store.msgfiles import relpath
from harness.store.records import MsgRecord, folder_prefix

if TYPE_CHECKING:
    from harness.drill.runner import Drill

FORMAT_VERSION = 1


def versions() -> dict[str, str]:
    import berkeleydb

    return {
        "firedrill": __version__,
        "python": platform.python_version(),
        "berkeleydb": berkeleydb.__version__,
        "libdb": ".".join(str(n) for n in db.version()),
        "platform": platform.platform(),
    }


def spool_header_ids(manifest: Path | None) -> list[str]:
    return summarize(manifest).spool_header_ids if manifest else []


def delivered(layout: Layout, header_ids: list[str]) -> int:
    """How many of these Message-IDs are stored now (spooled mail delivered after recovery)."""
    if not header_ids:
        return 0
    wanted = set(header_ids)
    with scratch_copy(layout, ("msgid",)) as stores:
        if not stores.readable("msgid/msgid.db"):
            return 0
        found = {
            MsgRecord.decode(k, v).header_id for k, v in items(stores.handle("msgid", "msgid.db"))
        }
    return len(wanted & found)


def verify_backup(backup: BackupRecord) -> list[dict[str, object]]:
    """Check the backup itself: is it a clean recovery point? (Only a tree can be checked.)"""
    tree = backup.directory / "tree" if (backup.directory / "tree").is_dir() else backup.directory
    try:
        report = run_check(tree)
    except FiredrillError as exc:
        return [{"taken": backup.point.wall, "clean": None, "why": str(exc)}]
    bad = [f for f in report.findings if f.severity.value == "violation"]
    return [
        {
            "taken": backup.point.wall,
            "clean": not bad and not report.errors,
            "findings": [f"{f.kind} {f.subject}" for f in bad[:20]],
        }
    ]


def came_back(
    layout: Layout,
    fault: FaultRecord,
    manifest: Path | None,
) -> list[dict[str, object]]:
    """For each thing the disaster destroyed: is it back, and did the backup hold it?"""
    summary = summarize(manifest) if manifest else None
    results: list[dict[str, object]] = []
    with scratch_copy(layout, ("entry", "mbox")) as stores:
        entries = stores.handle("entry", "entry.db") if stores.readable("entry/entry.db") else None
        rows = stores.handle("mbox", "rows.db") if stores.readable("mbox/rows.db") else None
        for damaged in fault.damaged:
            expected = True
            if damaged.kind == "account":
                back = entries is not None and entries.get(damaged.id.encode()) is not None
                expected = summary is None or damaged.id in summary.accounts
            elif damaged.kind == "mailbox":
                prefix = folder_prefix(damaged.id)
                count = (
                    0 if rows is None else sum(1 for k, _ in items(rows) if k.startswith(prefix))
                )
                held = summary.rows_per_mailbox[damaged.id] if summary else None
                # Back = every message the backup held (without a manifest: not empty).
                back = (
                    count >= held if held is not None else count > 0 or damaged.before in ("", "0")
                )
                expected = held is None or held > 0
            elif damaged.kind == "config":
                back = _config_value(layout, damaged.id) == damaged.before
                expected = summary is None or damaged.id in summary.config
            elif damaged.kind == "message":
                back = (layout.msgfiles / relpath(damaged.id)).is_file()
                expected = summary is None or damaged.id in summary.messages
            elif damaged.kind == "config-file":
                back = _config_value(layout, "/*/common/defaultDomain") is not None
            else:
                back = (layout.root / damaged.id).exists()
            results.append(
                {
                    "kind": damaged.kind,
                    "id": damaged.id,
                    "before": damaged.before,
                    "back": back,
                    "expected": expected,
                }
            )
    return results


def _config_value(layout: Layout, key: str) -> str | None:
    try:
        config = configdb.load(layout.config)
    except (ConfigSyntaxError, OSError, FiredrillError):
        return None
    return config.get(configdb.ConfigKey.parse(key))


def metrics(drill: Drill) -> dict[str, Any]:
    """The drill's figures. Recovery time runs from the moment the disaster had struck (the
    damage complete) to clients served again; the recovery point is taken when it began."""
    fault, backup, restore = drill.fault, drill.backup, drill.restore
    lost = drill.judgement.lost if drill.judgement else []
    messages = {x.ids.split(":", 1)[-1]: x for x in lost if x.kind == "acknowledged-message-lost"}
    allowed = {m for m, x in messages.items() if x.classification.value == "allowed"}
    restored = drill.scenario.recovery_action == "restore"
    struck = fault.struck.mono if fault else None
    return {
        "rto_seconds": _round(drill.ready_at - struck)
        if struck is not None and drill.ready_at
        else None,
        "detection_seconds": _round(drill.detected[0] - struck)
        if struck is not None and drill.detected
        else None,
        "detected": drill.detected[1] if drill.detected else None,
        "backup_window_seconds": _round(backup.ended.mono - backup.started.mono)
        if backup
        else None,
        "restore_seconds": _round(restore.ended.mono - restore.started.mono) if restore else None,
        "rpo_messages": len(allowed) if restored else 0,
        "rpo_seconds": _round(fault.at.mono - backup.point.mono)
        if restored and fault and backup
        else 0.0,
        "lost_messages": len(messages),
        "spooled_at_backup": len(drill.spooled_at_backup),
        "spooled_delivered_after_recovery": drill.delivered_from_backup_spool,
        "operations": dict(drill.workload.stats) if drill.workload else {},
    }


def targets(drill: Drill) -> list[dict[str, Any]]:
    expect = drill.scenario.expect
    m = metrics(drill)
    rows = []
    for name, target, actual in (
        ("rto_seconds", expect.rto_target, m["rto_seconds"]),
        ("rpo_seconds", expect.rpo_target_seconds, m["rpo_seconds"]),
        ("rpo_messages", expect.rpo_target_messages, m["rpo_messages"]),
    ):
        if target is not None:
            met = None if actual is None else actual <= target
            rows.append({"name": name, "target": target, "actual": actual, "met": met})
    return rows


def _round(value: float) -> float:
    return round(value, 3)


def write(drill: Drill) -> dict[str, Any]:
    """Save report.json (atomically) and return it."""
    verdict = drill.judgement.verdict.value if drill.judgement and not drill.error else "unknown"
    report: dict[str, Any] = {
        "format": "firedrill-report",
        "version": FORMAT_VERSION,
        "verdict": verdict,
        "reasons": drill.judgement.reasons if drill.judgement else [],
        "error": drill.error or None,
        "traceback": drill.traceback or None,
        "scenario": drill.scenario.to_json(),
        "seed": drill.seed,
        "backend": drill.options.backend,
        "versions": versions(),
        "started": drill.started.wall,
        "command": sys.argv,
        "timeline": [
            {
                "phase": p.name,
                "start": round(p.start, 3),
                "end": None if p.end is None else round(p.end, 3),
                "error": p.error,
            }
            for p in drill.phases
        ],
        "fault": drill.fault.to_json() if drill.fault else None,
        "backup": drill.backup.to_json() if drill.backup else None,
        "backup_interrupted": drill.backup_interrupted or None,
        "restore": drill.restore.to_json() if drill.restore else None,
        "procedure_output": drill.restore_output or None,
        "metrics": metrics(drill),
        "targets": targets(drill),
        "findings": [c.to_json() for c in drill.judgement.findings]
        if drill.judgement
        else [f.to_json() for f in drill.findings],
        "lost_operations": [x.to_json() for x in drill.judgement.lost] if drill.judgement else [],
        "came_back": drill.came_back,
        "recovery_points": drill.recovery_points,
        "latest_clean_recovery_point": next(
            (p["taken"] for p in reversed(drill.recovery_points) if p.get("clean")), None
        ),
        "procedure": drill.procedure.name if hasattr(drill, "procedure") else None,
        "check": drill.check.to_json() if drill.check else None,
        "history": str((drill.report_dir / "history.jsonl").absolute()),
        "logs": str((drill.report_dir / "logs").absolute()),
        "kept_tree": str(getattr(drill, "kept", "")) or None,
    }
    path = drill.report_dir / "report.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    write_outputs(drill.report_dir, json.loads(path.read_text()))
    return report
