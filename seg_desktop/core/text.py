"""Text as the office keeps it: the same on every database engine."""

from __future__ import annotations


def storable_text(text: str) -> str:
    """A text as the store keeps it on both engines: without NUL characters.

    PostgreSQL cannot hold a NUL in a text value at all (SQLite can), so the
    store drops them everywhere, and a name with a stray NUL from a damaged
    file reads the same on both engines (exports drop them anyway).
    """
    return text.replace("\x00", "") if "\x00" in text else text
