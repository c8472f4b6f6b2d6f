"""A target is started, resumed, refused or started over, never overwritten by surprise."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pytest_migration.engine.runs import TargetRefused, open_run

TARGET = sa.MetaData(schema="public")
sa.Table("things", TARGET, sa.Column("id", sa.BigInteger, primary_key=True))


def open_on(url: str, fingerprint: str = "f1", fresh: bool = False, timezone: str = "Europe/Paris") -> object:
    engine = sa.create_engine(url)
    try:
        return open_run(engine, TARGET, source="sqlite:///legacy.db", fingerprint=fingerprint,
                        settings={"timezone": timezone}, fresh=fresh)
    finally:
        engine.dispose()


def test_an_empty_target_gets_a_new_run_and_the_same_source_resumes_it(empty_target_url: str) -> None:
    first = open_on(empty_target_url)
    again = open_on(empty_target_url)
    assert (first.resumed, again.resumed) == (False, True)
    assert again.id == first.id


def test_a_target_with_foreign_tables_is_refused_even_with_fresh(empty_target_url: str) -> None:
    engine = sa.create_engine(empty_target_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE public.payroll (id int)"))
    engine.dispose()
    for fresh in (False, True):
        with pytest.raises(TargetRefused, match=r"not empty \(public.payroll\).*empty database"):
            open_on(empty_target_url, fresh=fresh)


@pytest.mark.parametrize("change", [{"fingerprint": "other"}, {"timezone": "UTC"}])
def test_a_run_of_another_source_or_settings_is_refused_unless_fresh(
    empty_target_url: str, change: dict[str, str]
) -> None:
    open_on(empty_target_url)
    with pytest.raises(TargetRefused, match="--fresh"):
        open_on(empty_target_url, **change)
    restarted = open_on(empty_target_url, fresh=True, **change)
    assert not restarted.resumed
    # The earlier run is gone: the new source and settings now resume the new run.
    assert open_on(empty_target_url, **change).resumed
    with pytest.raises(TargetRefused):
        open_on(empty_target_url)
