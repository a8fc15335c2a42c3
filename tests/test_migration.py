"""Schema migrations when several workers start together on one fresh database."""

import multiprocessing

import pytest
from pyramid.config import Configurator


def _migrate(url, barrier, results):
    from cliquet.permission import sql as permission_sql
    from cliquet.storage import sql as storage_sql

    config = Configurator(settings={"cliquet.storage_url": url, "cliquet.permission_url": url})
    storage = storage_sql.load_from_config(config)
    permission = permission_sql.load_from_config(config)
    barrier.wait(timeout=60)
    try:
        results.put((storage.initialize_schema(), permission.initialize_schema()))
    except Exception as e:  # reported by the test
        results.put(repr(e))


def _race(url, workers=4):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(target=_migrate, args=(url, barrier, results)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("round_", range(3))
def test_workers_migrating_one_new_sqlite_file_together_all_succeed(tmp_path, round_):
    outcomes = _race(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    storage_lines = sorted(o[0] for o in outcomes)
    # One worker created the tables; the others found them done.
    assert storage_lines.count("storage: upgraded empty -> storage_0001") == 1
    assert storage_lines.count("storage: up to date (revision storage_0001)") == 3


@pytest.mark.postgresql
def test_workers_migrating_one_new_postgresql_database_together_all_succeed(postgresql_url):
    import sqlalchemy as sa

    engine = sa.create_engine(postgresql_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:  # a database never migrated
        for table in (
            "records",
            "timestamps",
            "cliquet_storage_version",
            "user_principals",
            "access_control_entries",
            "cliquet_permission_version",
        ):
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()
    outcomes = _race(postgresql_url)
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert sorted(o[0] for o in outcomes).count("storage: upgraded empty -> storage_0001") == 1
