"""A shared office survives its server restarting: a clear error at most, then it reconnects.

A restart is played by ending every other session of the test database from a
second connection (`pg_terminate_backend`), which is what the server does to
its clients when it shuts down. These tests need a server (the `postgres_url`
fixture: skipped with a message without SEG_TEST_POSTGRES_URL, required under
CI=true); a SQLite file has no connection to lose.
"""

from __future__ import annotations

import datetime as dt
import socket
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from seg_desktop.core.engine import Trigger
from seg_desktop.store.database import describe_connect_failure, server_database_is_empty
from seg_desktop.store.errors import CannotConnect, ConnectionLost, NotOurDatabase
from seg_desktop.store.office import Office
from seg_desktop.store.runs import RUNNER_SETTING
from tests.helpers.office import client, db_execute, db_scalar, make_office

AS_OF = dt.date(2026, 3, 15)
CLIENTS = [client(f"C{n:03}") for n in range(40)]
REVENUE = [
    (f"C{n:03}", dt.date(2026, month, 10), (n + 1) * 10_000_00)
    for n in range(40)
    for month in (1, 2)
]
LOST = (
    "The connection to the office server was lost; nothing half-done was saved. "
    "Try again: seg-desktop reconnects."
)


def restart_server(url: str) -> int:
    """End every other session of the database, as a server shutting down does; how many."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        return len(ended)
    finally:
        engine.dispose()


def test_after_a_restart_the_next_operation_reconnects_by_itself(postgres_url: str) -> None:
    office, _ = make_office(postgres_url, CLIENTS, REVENUE)
    try:
        assert office.client_count() == 40  # a connection now waits in the pool
        assert restart_server(postgres_url) >= 1
        # The pooled connection is dead; it is noticed when taken and replaced.
        assert office.client_count() == 40
        office.save_segment(office.segments()[0].definition, office.segments()[0].id, AS_OF)
    finally:
        office.close()


def test_a_connection_lost_mid_transaction_is_one_clear_error_then_it_reconnects(
    postgres_url: str,
) -> None:
    office, _ = make_office(postgres_url, CLIENTS, REVENUE)
    try:
        half_done = "UPDATE client SET name = 'Half done' WHERE ref = :ref"
        with pytest.raises(ConnectionLost) as lost, office.database.write() as connection:
            connection.execute(text(half_done), {"ref": "C001"})
            restart_server(postgres_url)
            connection.execute(text(half_done), {"ref": "C002"})
        assert str(lost.value) == LOST
        assert lost.value.__cause__ is None  # one line for the user, no driver detail
        # The server rolled the transaction back; the next operation reconnects.
        assert db_scalar(postgres_url, "SELECT COUNT(*) FROM client WHERE name = 'Half done'") == 0
        assert office.client_count() == 40
    finally:
        office.close()


def test_a_run_cut_off_by_a_restart_leaves_the_previous_run_current(postgres_url: str) -> None:
    office, _ = make_office(postgres_url, CLIENTS, REVENUE)
    try:
        first = office.run_segmentation(AS_OF)[0]
        cut_off: list[int] = []

        def progress(_fraction: float, message: str) -> None:
            if message == "Saving the run" and not cut_off:
                cut_off.append(restart_server(postgres_url))

        with pytest.raises(ConnectionLost, match="nothing half-done was saved"):
            office.run_segmentation(AS_OF, Trigger.MANUAL, progress)
        assert cut_off and cut_off[0] >= 2  # the run's write and its run-lock session
        current = office.current_run()
        assert current is not None and current.id == first.id
        assert db_scalar(postgres_url, "SELECT COUNT(*) FROM run") == 1
        others = f"SELECT COUNT(*) FROM run_assignment WHERE run_id <> {first.id}"
        assert db_scalar(postgres_url, others) == 0
        # The server dropped the cut-off run's lock with its session: the next run goes ahead
        # (and overwrites the runner's name the cut-off one left behind).
        second = office.run_segmentation(AS_OF)[0]
        assert second.id != first.id
        assert office.current_run() == second
        runner = f"SELECT COUNT(*) FROM setting WHERE key = '{RUNNER_SETTING}'"
        assert db_scalar(postgres_url, runner) == 0
    finally:
        office.close()


def test_an_empty_server_database_is_told_apart_from_an_office_and_a_foreign_one(
    postgres_url: str,
) -> None:
    assert server_database_is_empty(postgres_url)
    assert server_database_is_empty(postgres_url)  # looking wrote nothing
    office = Office.open(postgres_url)
    office.close()
    assert not server_database_is_empty(postgres_url)
    db_execute(postgres_url, "DROP TABLE meta CASCADE")
    with pytest.raises(NotOurDatabase, match="holds other tables"):
        server_database_is_empty(postgres_url)


def test_a_server_that_will_not_connect_says_why_in_one_line(postgres_url: str) -> None:
    unknown = make_url(postgres_url).set(database="seg_no_such_office")
    with pytest.raises(CannotConnect) as no_database:
        server_database_is_empty(unknown.render_as_string(hide_password=False))
    assert "has no database named 'seg_no_such_office'" in str(no_database.value)
    nobody = make_url(postgres_url).set(username="seg_nobody")
    with pytest.raises(CannotConnect, match="no user named 'seg_nobody'"):
        Office.open(nobody.render_as_string(hide_password=False))
    # A port where nothing listens (the port before the test server's, free in .ci/postgres).
    closed = make_url(postgres_url).set(port=1)
    with pytest.raises(CannotConnect) as refused:
        Office.open(closed.render_as_string(hide_password=False))
    assert "no database server answers at postgresql+psycopg://" in str(refused.value)
    for error in (no_database.value, refused.value):
        assert "\n" not in str(error)


def test_a_server_that_never_answers_is_given_up_within_the_connect_timeout() -> None:
    """A listening socket that never speaks, as a hung server or a dropped route looks."""
    from seg_desktop.store.database import SERVER_CONNECT_TIMEOUT

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(CannotConnect, match="did not answer in time"):
            server_database_is_empty(f"postgresql+psycopg://anna@127.0.0.1:{port}/office")
        assert time.monotonic() - start < SERVER_CONNECT_TIMEOUT + 3


@pytest.mark.parametrize(
    ("driver_message", "expected"),
    [
        (
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  '
            'password authentication failed for user "anna"',
            "the server refused the user name or password for SERVER",
        ),
        (
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
            "fe_sendauth: no password supplied",
            "the server at SERVER asks for a password",
        ),
        ("connection timeout expired", "the server at SERVER did not answer in time"),
        (
            "failed to resolve host 'db.office.invalid': [Errno -2] Name or service not known",
            "the server's name in SERVER is not known",
        ),
        (
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  '
            'database "office" does not exist',
            "the server has no database named 'office' (SERVER)",
        ),
    ],
)
def test_connection_failures_are_named(driver_message: str, expected: str) -> None:
    described = describe_connect_failure(driver_message, "SERVER")
    assert described is not None and described.startswith(expected)


def test_other_errors_are_not_taken_for_connection_failures() -> None:
    assert describe_connect_failure('relation "client" does not exist', "SERVER") is None
    assert describe_connect_failure("division by zero", "SERVER") is None
