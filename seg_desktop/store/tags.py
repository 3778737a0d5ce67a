"""The tags an office's clients carry: the criteria editor's picker, and tagging a list."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Connection, insert, select

from seg_desktop.store.schema import ClientTag, table_of

tag_t = table_of(ClientTag)


def all_tags(connection: Connection) -> list[str]:
    """Every distinct tag in use, sorted case-insensitively (then exactly, for a stable order)."""
    tags = connection.execute(select(tag_t.c.tag).distinct()).scalars()
    # Sorted here, not in SQL: SQLite and PostgreSQL collate differently, and the picker
    # should list the same order on both.
    return sorted((str(tag) for tag in tags), key=lambda tag: (tag.casefold(), tag))


def add_tag(connection: Connection, client_ids: Iterable[int], tag: str) -> int:
    """Give these clients a tag (those who have it keep it); returns how many got it now."""
    wanted = sorted(set(client_ids))
    if not wanted:
        return 0
    have: set[int] = set()
    for chunk in _chunks(wanted):
        have.update(
            int(client_id)
            for client_id in connection.execute(
                select(tag_t.c.client_id).where(tag_t.c.tag == tag, tag_t.c.client_id.in_(chunk))
            ).scalars()
        )
    new = [{"client_id": client_id, "tag": tag} for client_id in wanted if client_id not in have]
    if new:
        connection.execute(insert(tag_t), new)
    return len(new)


def _chunks(ids: list[int], size: int = 5000) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
