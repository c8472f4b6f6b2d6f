"""The step registry and runner, without pytest or databases."""

from __future__ import annotations

import pytest

from pytest_migration.steps import StepFailed, StepRegistry, StepRegistryError, StepRunner


def make_registry(log: list[str], failing: str | None = None) -> StepRegistry[list[str]]:
    registry: StepRegistry[list[str]] = StepRegistry(phases=("prepare", "load", "finalize"))

    def body(name: str):  # noqa: ANN202
        def run(context: list[str]) -> None:
            context.append(name)
            if name == failing:
                raise RuntimeError(f"{name} broke")

        return run

    for name, phase, requires in [
        ("schema", "prepare", ()),
        ("parents", "load", ("schema",)),
        ("children", "load", ("parents",)),
        ("others", "load", ("schema",)),
        ("constraints", "finalize", ("children", "others")),
    ]:
        registry.step(phase=phase, requires=requires, name=name)(body(name))
    return registry


def test_asking_for_a_step_runs_exactly_its_prerequisites_once() -> None:
    log: list[str] = []
    runner = StepRunner(make_registry(log), log)
    runner.run("children")
    runner.run("children")
    runner.run("parents")
    assert log == ["schema", "parents", "children"]


def test_run_all_follows_phases_and_dependencies() -> None:
    log: list[str] = []
    StepRunner(make_registry(log), log).run_all()
    assert log == ["schema", "parents", "children", "others", "constraints"]


def test_a_failed_step_is_named_and_blocks_what_needs_it_only() -> None:
    log: list[str] = []
    runner = StepRunner(make_registry(log, failing="parents"), log)
    results = {result.name: result for result in runner.run_all()}
    assert results["parents"].status == "failed"
    assert "parents broke" in (results["parents"].error or "")
    assert results["children"].status == "blocked"
    assert results["constraints"].status == "blocked"
    assert "'parents'" in (results["constraints"].error or "")
    assert results["others"].status == "passed"
    with pytest.raises(StepFailed, match="children.*prerequisite step 'parents' failed"):
        runner.run("children")


def test_replayed_results_are_not_run_again() -> None:
    log: list[str] = []
    first = StepRunner(make_registry(log), log)
    first.run_all()
    replaying: list[str] = []
    second = StepRunner(make_registry(replaying), replaying)
    second.replay(first.results.values())
    second.run("constraints")
    assert replaying == []


def test_a_step_must_be_declared_after_what_it_requires() -> None:
    registry: StepRegistry[None] = StepRegistry(phases=("only",))
    with pytest.raises(StepRegistryError, match="requires 'missing'"):
        registry.step(phase="only", requires=["missing"])(lambda context: None)
    with pytest.raises(StepRegistryError, match="unknown phase"):
        registry.step(phase="other")


def test_errors_are_redacted_before_they_are_recorded() -> None:
    registry: StepRegistry[None] = StepRegistry(phases=("only",))

    def connect(context: None) -> None:
        raise RuntimeError("could not connect to postgresql://app:s3cr3t@db:5432/x")

    registry.step(phase="only", name="connect")(connect)
    result = StepRunner(registry, None).run_all()[0]
    assert "s3cr3t" not in (result.error or "") + (result.detail or "")
    assert "app:***@db" in (result.error or "")
