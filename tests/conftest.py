"""Fixtures shared by every test folder: an office database on each engine.

`office_url` is parametrised over SQLite and PostgreSQL. The PostgreSQL leg
needs a server: `.ci/run` starts a throwaway one and sets SEG_TEST_POSTGRES_URL;
locally, set it yourself (see the README) or the leg is skipped with a message
saying so. Under CI=true a missing server fails the run instead.

`office_url_factory` makes more than one office on the test's engine (two
offices to compare, a source and a target); `module_office_url_factory` does
the same once per test module, for an office built once and queried by many
tests (each module then runs once per engine).
"""

from __future__ import annotations

import contextlib
import gc
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.helpers.office import OfficeUrlFactory

POSTGRES_URL_VARIABLE = "SEG_TEST_POSTGRES_URL"
ENGINES = ["sqlite", "postgresql"]


def postgres_server_url() -> str | None:
    """The URL of the test server's maintenance database, if one was given."""
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


def _require_server() -> str:
    server = postgres_server_url()
    if server is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL leg, but {POSTGRES_URL_VARIABLE} is not set")
        pytest.skip(f"PostgreSQL leg skipped: set {POSTGRES_URL_VARIABLE} to run it")
    return server


@contextlib.contextmanager
def _office_databases(engine: str, folder: Path) -> Iterator[OfficeUrlFactory]:
    """A factory of new, empty office databases on one engine; the server ones are dropped after."""
    server = _require_server() if engine == "postgresql" else None
    with contextlib.ExitStack() as stack:

        def new(name: str = "office.db") -> str:
            if server is None:
                return str(folder / name)
            return stack.enter_context(_fresh_postgres_database(server))

        yield new
        # An office the test left open shows here, in its own test (a ResourceWarning for
        # the connection), not in whichever later test the garbage collector runs in.
        gc.collect()


@pytest.fixture(params=ENGINES)
def office_url_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[OfficeUrlFactory]:
    """Makes new, empty office databases on this test's engine (SQLite files in tmp_path)."""
    with _office_databases(request.param, tmp_path) as factory:
        yield factory


@pytest.fixture
def office_url(office_url_factory: OfficeUrlFactory) -> str:
    """A new, empty office database: a SQLite file, or a fresh PostgreSQL database."""
    return office_url_factory()


@pytest.fixture(scope="module", params=ENGINES)
def module_office_url_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OfficeUrlFactory]:
    """Like office_url_factory, for offices shared by the tests of one module."""
    folder = tmp_path_factory.mktemp(f"offices-{request.param}")
    with _office_databases(request.param, folder) as factory:
        yield factory


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (for tests that need a server beside a SQLite file)."""
    with _fresh_postgres_database(_require_server()) as url:
        yield url
        gc.collect()


class _fresh_postgres_database:
    """CREATE DATABASE for one test, with a linguistic collation where the server has ICU,
    so a result that depended on the database's collation would show; DROP it afterwards."""

    def __init__(self, server: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self._admin = create_engine(server, isolation_level="AUTOCOMMIT")
        self._name = f"seg_test_{uuid.uuid4().hex[:12]}"
        self.url = make_url(server).set(database=self._name).render_as_string(hide_password=False)

    def __enter__(self) -> str:
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        with self._admin.connect() as connection:
            try:
                connection.execute(
                    text(
                        f"CREATE DATABASE \"{self._name}\" TEMPLATE template0 ENCODING 'UTF8' "
                        "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                    )
                )
            except DBAPIError:
                connection.execute(
                    text(f"CREATE DATABASE \"{self._name}\" TEMPLATE template0 ENCODING 'UTF8'")
                )
        return self.url

    def __exit__(self, *_exc: object) -> None:
        from sqlalchemy import text

        with self._admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)'))
        self._admin.dispose()
