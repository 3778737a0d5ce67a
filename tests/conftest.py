"""Fixtures shared by every test folder: an office database on each engine.

`office_url` is parametrised over SQLite and PostgreSQL. The PostgreSQL leg
needs a server: `.ci/run` starts a throwaway one and sets SEG_TEST_POSTGRES_URL;
locally, set it yourself (see the README) or the leg is skipped with a message
saying so. Under CI=true a missing server fails the run instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL_VARIABLE = "SEG_TEST_POSTGRES_URL"


def postgres_server_url() -> str | None:
    """The URL of the test server's maintenance database, if one was given."""
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


@pytest.fixture(params=["sqlite", "postgresql"])
def office_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty office database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "office.db")
        return
    server = postgres_server_url()
    if server is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL leg, but {POSTGRES_URL_VARIABLE} is not set")
        pytest.skip(f"PostgreSQL leg skipped: set {POSTGRES_URL_VARIABLE} to run it")
    with _fresh_postgres_database(server) as url:
        yield url


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
                        f'CREATE DATABASE "{self._name}" TEMPLATE template0 ENCODING \'UTF8\' '
                        "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                    )
                )
            except DBAPIError:
                connection.execute(
                    text(f'CREATE DATABASE "{self._name}" TEMPLATE template0 ENCODING \'UTF8\'')
                )
        return self.url

    def __exit__(self, *_exc: object) -> None:
        from sqlalchemy import text

        with self._admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)'))
        self._admin.dispose()
