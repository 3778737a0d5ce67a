"""Prepared emails out of the program: .eml files, a mail-merge CSV, or an SMTP server.

Nothing here runs on its own: the window calls :func:`send_batch` when the user
presses Send on a batch they reviewed (the command line only prepares batches).
Each message's outcome is recorded as soon as the server answers, in its own
transaction, so a crash halfway leaves every message that went out marked sent
and every other one still sendable. A message the server refused, or that could
not be sent because the connection failed, is recorded as failed with the
reason and stays sendable (retry); it is never marked sent.

Files are written to a temporary name and renamed into place (``io.atomic``);
text cells of the CSV are formula-safe (``io.export``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Literal, Protocol

from seg_desktop.core.automation import is_plausible_address
from seg_desktop.io.atomic import atomic_write
from seg_desktop.io.export import Column, write_csv
from seg_desktop.store.changes import Changes
from seg_desktop.store.records import EmailMessage

Security = Literal["starttls", "ssl", "none"]
SECURITY_CHOICES: tuple[Security, ...] = ("starttls", "ssl", "none")
KEYRING_SERVICE = "seg-desktop-smtp"
"""The keyring service the mail server's password is saved under (account: user@host)."""


class MailError(Exception):
    """A batch that cannot be exported or sent; the message is for the user."""


@dataclass(frozen=True)
class SmtpSettings:
    """The outgoing mail server the user configured (the password lives in the keyring)."""

    host: str
    sender: str
    """The From address."""
    port: int = 587
    security: Security = "starttls"
    username: str = ""
    sender_name: str = ""
    timeout: float = 30.0

    def validate(self) -> SmtpSettings:
        """The settings trimmed, or MailError naming what is wrong."""
        host = self.host.strip()
        if not host:
            raise MailError("type the mail server's name (e.g. smtp.office.example)")
        if not 0 < self.port < 65536:
            raise MailError(f"{self.port} is not a port number (1-65535)")
        if self.security not in SECURITY_CHOICES:
            raise MailError("security must be STARTTLS, SSL/TLS or none")
        sender = self.sender.strip()
        if not is_plausible_address(sender):
            raise MailError(f"'{sender}' is not an email address to send from")
        return SmtpSettings(
            host,
            sender,
            self.port,
            self.security,
            self.username.strip(),
            self.sender_name.strip(),
            self.timeout,
        )

    @property
    def keyring_account(self) -> str:
        """The keyring account of the password: user@host."""
        return f"{self.username}@{self.host}"

    def to_json(self) -> str:
        """As saved in the office (never with a password)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SmtpSettings:
        """Read saved settings; MailError if they are unreadable."""
        try:
            values = json.loads(text)
            return cls(
                host=str(values["host"]),
                sender=str(values["sender"]),
                port=int(values.get("port", 587)),
                security=values.get("security", "starttls"),
                username=str(values.get("username", "")),
                sender_name=str(values.get("sender_name", "")),
                timeout=float(values.get("timeout", 30.0)),
            ).validate()
        except (ValueError, KeyError, TypeError) as error:
            raise MailError(f"the saved mail server settings are not readable ({error})") from None


# --- building messages ------------------------------------------------------------------------


def _address(name: str, address: str) -> Address:
    local, _at, domain = address.rpartition("@")
    try:
        return Address(display_name=name, username=local, domain=domain)
    except (ValueError, IndexError) as error:
        raise MailError(f"'{address}' cannot be written as an address ({error})") from None


def build_message(
    message: EmailMessage,
    sender: str,
    sender_name: str = "",
    date: dt.datetime | None = None,
) -> MimeMessage:
    """One prepared email as a MIME message (To: the client, with its name)."""
    if message.recipient is None or not is_plausible_address(message.recipient):
        raise MailError(f"{message.client_ref} {message.client_name} has no usable email address")
    mime = MimeMessage(policy=default_policy)
    mime["From"] = _address(sender_name, sender)
    mime["To"] = _address(message.client_name, message.recipient)
    mime["Subject"] = message.subject
    mime["Date"] = email.utils.format_datetime((date or dt.datetime.now()).astimezone())
    domain = sender.rpartition("@")[2] or None
    mime["Message-ID"] = email.utils.make_msgid(f"seg.{message.batch_id}.{message.id}", domain)
    mime["X-Seg-Desktop-Batch"] = str(message.batch_id)
    mime.set_content(message.body)
    return mime


@dataclass(frozen=True)
class EmlExport:
    """What an .eml export wrote, and which clients it could not write (no address)."""

    written: tuple[Path, ...]
    without_email: tuple[EmailMessage, ...]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _file_name(message: EmailMessage, position: int) -> str:
    ref = _UNSAFE.sub("_", message.client_ref).strip("._")[:40] or "client"
    return f"batch{message.batch_id}-{position:04d}-{ref}.eml"


def export_eml(
    folder: Path,
    messages: Sequence[EmailMessage],
    sender: str,
    sender_name: str = "",
) -> EmlExport:
    """Write each message with an address as ``<folder>/batch<N>-<nnnn>-<ref>.eml``.

    Messages without a usable address are listed in the result, not written.
    Each file is written atomically; the folder must exist.
    """
    if not folder.is_dir():
        raise MailError(f"the folder {folder} does not exist")
    written, without = [], []
    for position, message in enumerate(messages, start=1):
        if message.recipient is None or not is_plausible_address(message.recipient):
            without.append(message)
            continue
        mime = build_message(message, sender, sender_name)
        path = folder / _file_name(message, position)
        with atomic_write(path, "wb") as handle:
            handle.write(mime.as_bytes(policy=default_policy))
        written.append(path)
    return EmlExport(tuple(written), tuple(without))


MAIL_MERGE_COLUMNS = (
    Column("ref", "Ref", "text"),
    Column("name", "Name", "text"),
    Column("email", "Email", "text"),
    Column("subject", "Subject", "text"),
    Column("body", "Body", "text"),
    Column("status", "Status", "text"),
)


def export_mail_merge_csv(path: Path, messages: Sequence[EmailMessage]) -> int:
    """Every message of a batch as one CSV row (clients without an address included, with
    status ``no_email``), formula-safe and written atomically; returns the rows written."""
    rows = (
        (m.client_ref, m.client_name, m.recipient or "", m.subject, m.body, m.status)
        for m in messages
    )
    return write_csv(path, MAIL_MERGE_COLUMNS, rows)


# --- sending ----------------------------------------------------------------------------------


@dataclass
class SendReport:
    """What one press of Send did, per message id (and what recording it changed)."""

    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    """Messages not attempted: already sent, no address, or cancelled before their turn."""
    changes: Changes = field(default_factory=Changes)
    """What recording the attempts changed in the office (the window broadcasts it)."""

    def record(self, office: Outbox, message_id: int, ok: bool, detail: str) -> None:
        """Record one attempt in the office and keep what that changed."""
        self.changes = self.changes | office.record_email_send(message_id, ok, detail)

    def describe(self) -> str:
        """One line for the status bar."""
        text = f"{len(self.sent):,} sent"
        if self.failed:
            text += f", {len(self.failed):,} failed (they can be sent again)"
        if self.skipped:
            text += f", {len(self.skipped):,} not sent"
        return text


Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]


def _connect(settings: SmtpSettings, password: str | None) -> smtplib.SMTP:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.security == "ssl":
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [f"{code} {text!r}" for code, text in error.recipients.values()]
        return "the server refused the recipient: " + "; ".join(codes).replace("b'", "'")
    if isinstance(error, smtplib.SMTPResponseException):
        raw = error.smtp_error
        detail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
        return f"the server answered {error.smtp_code} {detail}".strip()
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return f"the server does not support it: {error}"
    if isinstance(error, ssl.SSLError):
        return f"secure connection failed: {error.reason or error}"
    if isinstance(error, socket.timeout | TimeoutError):
        return "the server did not answer in time"
    if isinstance(error, OSError):
        return f"cannot reach the mail server: {error.strerror or error}"
    return f"{type(error).__name__}: {error}"


class Outbox(Protocol):
    """What sending needs of the office: the reviewed messages, and a place to record each try."""

    def email_messages(
        self, batch_id: int, message_ids: Sequence[int] | None = None
    ) -> list[EmailMessage]:
        """A batch's messages (or the given ones of it)."""
        ...

    def record_email_send(self, message_id: int, ok: bool, detail: str) -> Changes:
        """Record one attempt to send a message."""
        ...


def send_batch(
    office: Outbox,
    batch_id: int,
    message_ids: Collection[int],
    settings: SmtpSettings,
    password: str | None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> SendReport:
    """Send exactly the reviewed messages of a batch (those still sendable) and record each.

    ``message_ids`` are the messages the user saw and chose; anything else in
    the batch is left alone. A message already sent, or without an address, is
    skipped. If the server cannot be reached or refuses the login, every message
    is recorded as failed with the reason (and stays sendable).
    """
    report = SendReport()
    settings = settings.validate()
    chosen = office.email_messages(batch_id, list(message_ids))
    found = {m.id for m in chosen}
    for missing in sorted(set(message_ids) - found):
        report.skipped[missing] = "not in this batch any more"
    todo = []
    for message in chosen:
        if message.status == "sent":
            report.skipped[message.id] = "already sent"
        elif not message.sendable:
            report.skipped[message.id] = message.last_error or "no email address"
        else:
            todo.append(message)
    if not todo:
        return report
    tell = progress or (lambda _f, _m: None)
    stop = cancelled or (lambda: False)
    tell(0.0, f"Connecting to {settings.host}")
    try:
        smtp = _connect(settings, password)
    except (smtplib.SMTPException, OSError) as error:
        reason = _reason(error)
        for message in todo:
            report.record(office, message.id, False, reason)
            report.failed[message.id] = reason
        return report
    try:
        for position, message in enumerate(todo):
            if stop():
                for rest in todo[position:]:
                    report.skipped[rest.id] = "cancelled before it was sent"
                break
            tell(position / len(todo), f"Sending to {message.recipient}")
            try:
                mime = build_message(message, settings.sender, settings.sender_name)
                refused = smtp.send_message(mime)
            except MailError as error:
                report.record(office, message.id, False, str(error))
                report.failed[message.id] = str(error)
                continue
            except (smtplib.SMTPException, OSError) as error:
                reason = _reason(error)
                report.record(office, message.id, False, reason)
                report.failed[message.id] = reason
                lost = isinstance(error, smtplib.SMTPServerDisconnected) or not isinstance(
                    error, smtplib.SMTPException
                )
                if lost:
                    # The connection is gone: the rest fail the same way, recorded as such.
                    for rest in todo[position + 1 :]:
                        report.record(office, rest.id, False, reason)
                        report.failed[rest.id] = reason
                    break
                continue
            if refused:
                reason = "the server refused the recipient: " + ", ".join(
                    f"{address} ({code})" for address, (code, _text) in refused.items()
                )
                report.record(office, message.id, False, reason)
                report.failed[message.id] = reason
                continue
            report.record(office, message.id, True, f"accepted by {settings.host}")
            report.sent.append(message.id)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    tell(1.0, report.describe())
    return report
