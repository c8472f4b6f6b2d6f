"""The JSON migration report of MIGRATION_RULES.md section 4: a pure function of results."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..engine.accounting import TableAccount
from ..redact import redact
from ..steps import StepResult

VERSION = 1


def build_report(
    *,
    source: str,
    target: str,
    accounts: Mapping[str, TableAccount],
    steps: Sequence[StepResult],
    checks: Mapping[str, int],
) -> dict[str, Any]:
    """Return the report as JSON-ready data; URLs are masked whatever the caller passed."""
    return {
        "version": VERSION,
        "source": redact(source),
        "target": redact(target),
        "tables": {name: account.to_dict() for name, account in accounts.items()},
        "balanced": all(account.balances for account in accounts.values()),
        "steps": [step.to_dict() for step in steps],
        "checks": {outcome: checks.get(outcome, 0) for outcome in ("passed", "failed", "skipped", "error")},
    }


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    """Write the report, masking secrets once more on the way out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(json.dumps(report, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8")
