"""Passwords in the system keyring: stored only in a recommended keyring, never elsewhere.

Every test sets its own in-memory backend through keyring's own mechanism
(`keyring.set_keyring`), so no test ever reads or writes the user's keyring.
"""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.errors import KeyringLocked, PasswordDeleteError

from seg_desktop.io.secrets import delete_password, keyring_available, load_password, save_password

SERVICE = "seg-desktop office server"
ACCOUNT = "anna@db.office.example:5432/office"


class MemoryKeyring(KeyringBackend):
    """A recommended keyring (priority 1, the lowest keyring recommends) held in a dict."""

    priority = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


class PlainTextKeyring(MemoryKeyring):
    """Like keyrings.alt's plain-text file backend: works, but keyring does not recommend it."""

    priority = 0.5


class LockedKeyring(MemoryKeyring):
    """A system keyring the user did not unlock (the prompt was dismissed)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the keyring is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the keyring is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("the keyring is locked")


@pytest.fixture(autouse=True)
def keep_real_keyring() -> Iterator[None]:
    """Whatever backend a test sets, the one before it is put back afterwards."""
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


def use(backend: KeyringBackend) -> KeyringBackend:
    keyring.set_keyring(backend)
    return backend


def test_a_saved_password_loads_back_and_is_forgotten_on_delete() -> None:
    memory = use(MemoryKeyring())
    assert keyring_available()
    assert save_password(SERVICE, ACCOUNT, "s3cret; with 'quotes' @ and :colons/") is True
    assert load_password(SERVICE, ACCOUNT) == "s3cret; with 'quotes' @ and :colons/"
    assert isinstance(memory, MemoryKeyring)
    assert memory.passwords == {(SERVICE, ACCOUNT): "s3cret; with 'quotes' @ and :colons/"}
    delete_password(SERVICE, ACCOUNT)
    assert load_password(SERVICE, ACCOUNT) is None
    assert memory.passwords == {}


def test_saving_again_replaces_the_password_and_accounts_are_kept_apart() -> None:
    use(MemoryKeyring())
    assert save_password(SERVICE, ACCOUNT, "old")
    assert save_password(SERVICE, ACCOUNT, "new")
    assert save_password(SERVICE, "bob@db.office.example:5432/office", "bobs")
    assert load_password(SERVICE, ACCOUNT) == "new"
    assert load_password(SERVICE, "bob@db.office.example:5432/office") == "bobs"
    assert load_password("another service", ACCOUNT) is None


def test_deleting_a_password_never_kept_is_quiet() -> None:
    use(MemoryKeyring())
    delete_password(SERVICE, ACCOUNT)
    assert load_password(SERVICE, ACCOUNT) is None


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_without_a_system_keyring_nothing_is_saved_and_nothing_fails(
    backend: KeyringBackend,
) -> None:
    use(backend)  # what keyring picks on a headless Linux box
    assert not keyring_available()
    assert save_password(SERVICE, ACCOUNT, "s3cret") is False
    assert load_password(SERVICE, ACCOUNT) is None
    delete_password(SERVICE, ACCOUNT)


def test_a_plain_text_backend_is_never_used() -> None:
    plain = use(PlainTextKeyring())
    assert isinstance(plain, PlainTextKeyring)
    assert not keyring_available()
    assert save_password(SERVICE, ACCOUNT, "s3cret") is False
    assert plain.passwords == {}  # stored nowhere, certainly not in plain text
    plain.passwords[(SERVICE, ACCOUNT)] = "from before"
    assert load_password(SERVICE, ACCOUNT) is None


def test_a_locked_keyring_reports_not_saved_instead_of_raising() -> None:
    use(LockedKeyring())
    assert keyring_available()
    assert save_password(SERVICE, ACCOUNT, "s3cret") is False
    assert load_password(SERVICE, ACCOUNT) is None
    delete_password(SERVICE, ACCOUNT)
