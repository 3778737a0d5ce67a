"""Passwords kept in the system keyring (macOS Keychain, Windows Credential Locker,
the Secret Service on Linux), never in a file of ours.

A thin layer over the `keyring` package with one rule on top: a password is
stored only in a real, recommended keyring. Where the system offers none (a
headless Linux box, where keyring falls back to its "fail" or "null"
backend, or a plain-text file backend someone configured), `save_password`
says so by returning False and the caller asks for the password each time.
Nothing here ever writes a password in plain text.
"""

from __future__ import annotations

import logging

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

__all__ = ["delete_password", "keyring_available", "load_password", "save_password"]

_log = logging.getLogger(__name__)

# keyring ranks its backends by `priority`: the system keyrings are 1 or more (4.9 to
# 10), its "fail" backend 0, "null" -1, and the plain-text file backends of
# keyrings.alt below 1 ("not recommended"). Only the recommended ones are used.
_RECOMMENDED_PRIORITY = 1.0


def _usable_backend() -> KeyringBackend | None:
    """The active keyring backend if it is a recommended one, else None."""
    try:
        backend = keyring.get_keyring()
        priority = float(backend.priority)
    except Exception as error:  # a broken backend configuration: as if there were none
        _log.warning("no system keyring: %s", error)
        return None
    return backend if priority >= _RECOMMENDED_PRIORITY else None


def keyring_available() -> bool:
    """Whether a system keyring can hold passwords here."""
    return _usable_backend() is not None


def save_password(service: str, account: str, password: str) -> bool:
    """Keep a password in the system keyring; False when there is none or it refused.

    Never falls back to anything else: on False the password was stored nowhere.
    """
    backend = _usable_backend()
    if backend is None:
        return False
    try:
        backend.set_password(service, account, password)
    except (KeyringError, NotImplementedError) as error:  # locked, prompt dismissed
        _log.warning("the system keyring did not store the password: %s", error)
        return False
    return True


def load_password(service: str, account: str) -> str | None:
    """The password kept for an account, or None (none kept, or no keyring)."""
    backend = _usable_backend()
    if backend is None:
        return None
    try:
        found = backend.get_password(service, account)
    except KeyringError as error:
        _log.warning("the system keyring did not give the password: %s", error)
        return None
    return found if isinstance(found, str) else None


def delete_password(service: str, account: str) -> None:
    """Forget a kept password; nothing happens when none was kept or there is no keyring."""
    backend = _usable_backend()
    if backend is None:
        return
    try:
        backend.delete_password(service, account)
    except PasswordDeleteError:
        return  # there was none
    except (KeyringError, NotImplementedError) as error:
        _log.warning("the system keyring did not forget the password: %s", error)
