"""Named migration steps, ordered by their declared prerequisites, and the runner.

A suite declares steps on a `StepRegistry`; a `StepRunner` executes them without pytest
(the console script uses it as it is) and records one `StepResult` per step. Asking the
runner for a step runs exactly its prerequisites first, each once; a step whose
prerequisite failed is not run and fails naming that prerequisite.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar

from .redact import redact

ContextT = TypeVar("ContextT")
StepStatus = Literal["passed", "failed", "blocked"]


@dataclass(frozen=True)
class Step(Generic[ContextT]):
    """One unit of migration work: a name, a phase, its prerequisites and what it does."""

    name: str
    phase: str
    requires: tuple[str, ...]
    run: Callable[[ContextT], object]
    doc: str = ""


@dataclass(frozen=True)
class StepResult:
    """What happened when a step ran; plain data so it can cross to xdist workers."""

    name: str
    phase: str
    status: StepStatus
    seconds: float
    error: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        return {
            "name": self.name,
            "phase": self.phase,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepResult:
        """Rebuild a result recorded by another process."""
        return cls(
            name=data["name"],
            phase=data["phase"],
            status=data["status"],
            seconds=data["seconds"],
            error=data.get("error"),
            detail=data.get("detail"),
        )


class StepRegistryError(ValueError):
    """The declared steps do not form a valid plan (unknown name, cycle, duplicate)."""


class StepFailed(RuntimeError):
    """A step, or one of its prerequisites, did not pass."""

    def __init__(self, result: StepResult) -> None:
        self.result = result
        if result.status == "blocked":
            message = f"migration step {result.name!r} did not run: {result.error}"
        else:
            message = f"migration step {result.name!r} failed: {result.error}"
        super().__init__(message)


@dataclass
class StepRegistry(Generic[ContextT]):
    """The steps of one migration, in declaration order, with their phases."""

    phases: tuple[str, ...]
    steps: dict[str, Step[ContextT]] = field(default_factory=dict)

    def step(
        self, *, phase: str, requires: Iterable[str] = (), name: str | None = None
    ) -> Callable[[Callable[[ContextT], object]], Callable[[ContextT], object]]:
        """Register the decorated function as a step of `phase`."""
        if phase not in self.phases:
            raise StepRegistryError(f"unknown phase {phase!r}; declared phases: {', '.join(self.phases)}")

        def register(func: Callable[[ContextT], object]) -> Callable[[ContextT], object]:
            self.add(Step(name or func.__name__, phase, tuple(requires), func, (func.__doc__ or "").strip()))
            return func

        return register

    def add(self, step: Step[ContextT]) -> None:
        """Register one step; its prerequisites must already be registered."""
        if step.name in self.steps:
            raise StepRegistryError(f"step {step.name!r} is declared twice")
        for required in step.requires:
            if required not in self.steps:
                raise StepRegistryError(
                    f"step {step.name!r} requires {required!r}, which is not declared before it"
                )
        self.steps[step.name] = step

    def plan(self, targets: Iterable[str] | None = None) -> list[Step[ContextT]]:
        """Return the steps needed for `targets` (all when None), prerequisites first."""
        names = list(self.steps) if targets is None else list(targets)
        ordered: list[Step[ContextT]] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            if name not in self.steps:
                raise StepRegistryError(f"unknown migration step {name!r}; declared: {', '.join(self.steps)}")
            seen.add(name)
            step = self.steps[name]
            for required in step.requires:
                visit(required)
            ordered.append(step)

        for name in names:
            visit(name)
        # Registration order already respects prerequisites (`add` enforces it), so the
        # stable sort by phase keeps each phase's steps in dependency order.
        return sorted(ordered, key=lambda step: self.phases.index(step.phase))


class StepRunner(Generic[ContextT]):
    """Runs registered steps against one context, each at most once, recording results."""

    def __init__(
        self,
        registry: StepRegistry[ContextT],
        context: ContextT,
        on_result: Callable[[StepResult], None] | None = None,
    ) -> None:
        self.registry = registry
        self.context = context
        self.results: dict[str, StepResult] = {}
        self._on_result = on_result

    def replay(self, results: Iterable[StepResult]) -> None:
        """Take results recorded elsewhere (the xdist controller) as if run here."""
        for result in results:
            self.results[result.name] = result

    def run(self, name: str) -> StepResult:
        """Run `name` after its prerequisites; raise StepFailed if it or one of them failed."""
        result = self._run(name)
        if result.status != "passed":
            raise StepFailed(result)
        return result

    def run_all(self) -> list[StepResult]:
        """Run every registered step; a failure blocks the steps that need it, not the others."""
        return [self._run(step.name) for step in self.registry.plan()]

    def _run(self, name: str) -> StepResult:
        if name in self.results:
            return self.results[name]
        step = self.registry.steps.get(name)
        if step is None:
            raise StepRegistryError(f"unknown migration step {name!r}; declared: {', '.join(self.registry.steps)}")
        for required in step.requires:
            prerequisite = self._run(required)
            if prerequisite.status != "passed":
                # A blocked prerequisite already names the step that failed at the root.
                cause = (
                    f"prerequisite step {prerequisite.name!r} failed"
                    if prerequisite.status == "failed"
                    else prerequisite.error
                )
                return self._record(StepResult(step.name, step.phase, "blocked", 0.0, cause))
        started = time.perf_counter()
        try:
            detail = step.run(self.context)
        except Exception as error:  # noqa: BLE001 - a step's failure is recorded, not raised here
            return self._record(
                StepResult(
                    step.name,
                    step.phase,
                    "failed",
                    time.perf_counter() - started,
                    f"{type(error).__name__}: {error}",
                    "".join(traceback.format_exception(error)),
                )
            )
        seconds = time.perf_counter() - started
        return self._record(
            StepResult(step.name, step.phase, "passed", seconds, detail=None if detail is None else str(detail))
        )

    def _record(self, result: StepResult) -> StepResult:
        # Errors can quote connection strings: mask secrets before anyone sees them.
        result = replace(
            result,
            error=None if result.error is None else redact(result.error),
            detail=None if result.detail is None else redact(result.detail),
        )
        self.results[result.name] = result
        if self._on_result is not None:
            self._on_result(result)
        return result
