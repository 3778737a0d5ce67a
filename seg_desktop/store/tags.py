"""The tags an office's clients carry, for the tag picker of the criteria editor."""

from __future__ import annotations

from sqlalchemy import Connection, select

from seg_desktop.store.schema import ClientTag, table_of

tag_t = table_of(ClientTag)


def all_tags(connection: Connection) -> list[str]:
    """Every distinct tag in use, sorted case-insensitively (then exactly, for a stable order)."""
    tags = connection.execute(select(tag_t.c.tag).distinct()).scalars()
    # Sorted here, not in SQL: SQLite and PostgreSQL collate differently, and the picker
    # should list the same order on both.
    return sorted((str(tag) for tag in tags), key=lambda tag: (tag.casefold(), tag))
