"""Plain-text tables of step results and table accounts for the terminal summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..engine.accounting import TableAccount
from ..steps import StepResult


def step_lines(results: Sequence[StepResult]) -> list[str]:
    """One line per step: phase, name, status, seconds, and the error of a failed step."""
    width = max((len(result.name) for result in results), default=0)
    lines = []
    for result in results:
        line = f"{result.phase:<9} {result.name:<{width}} {result.status:<7} {result.seconds:8.2f}s"
        if result.error:
            line += f"  {result.error}"
        lines.append(line)
    return lines


def account_lines(accounts: Mapping[str, TableAccount]) -> list[str]:
    """One line per table: source = migrated + quarantined, and the quarantine reasons."""
    if not accounts:
        return []
    width = max(len(name) for name in accounts)
    lines = [f"{'table':<{width}} {'source':>9} {'migrated':>9} {'quarantined':>11}  reasons"]
    for name, account in accounts.items():
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(account.quarantine_reasons.items()))
        flag = "" if account.balances else "  DOES NOT BALANCE"
        lines.append(
            f"{name:<{width}} {account.source_rows:>9} {account.migrated_rows:>9} "
            f"{account.quarantined_rows:>11}  {reasons}{flag}"
        )
    return lines
