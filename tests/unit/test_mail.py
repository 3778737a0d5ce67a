"""Prepared emails out: .eml files that parse back, a formula-safe mail-merge CSV, and SMTP
sending against a local aiosmtpd server that delivers exactly the reviewed batch."""

from __future__ import annotations

import csv
import datetime as dt
import email
import socket
from collections.abc import Iterator
from email.message import EmailMessage as MimeMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from seg_desktop.core.automation import Action, ActionKind, AutomationRule, Target, When
from seg_desktop.io.mail import (
    MailError,
    SmtpSettings,
    export_eml,
    export_mail_merge_csv,
    send_batch,
)
from seg_desktop.store.office import Office
from tests.helpers.office import client, make_office

D = dt.date
AS_OF = D(2026, 3, 15)
CLIENTS = [
    client("A", "Alpha Ltd", email="alpha@example.com"),
    client("B", '=Beta, "the" LLC', email="beta@example.com"),
    client("C", "Gamma & Sons"),  # no email
    client("E", "Epsilon", email="refuse@example.com"),
]
REVENUE = [(ref, D(2025, 3, 1), 6_000_000) for ref in ("A", "B", "C", "E")]  # all Gold


class Recorder:
    """An SMTP handler keeping what it accepted; refuses the addresses in ``refuse``."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login,
        auth_data.password,
    ) == (b"office", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    opened, _ids = make_office(tmp_path, CLIENTS, REVENUE)
    opened.save_automation_rule(
        AutomationRule(
            "Gold hello",
            When.IS_IN,
            Target.of_tier("Gold"),
            Action(
                ActionKind.PREPARE_EMAIL,
                subject="Welcome to Gold, {name}",
                body="Dear {name},\nyour revenue is {total_revenue}.\n",
            ),
        )
    )
    opened.run_segmentation(AS_OF)
    yield opened
    opened.close()


def settings(port: int, **values: Any) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        sender="desk@office.example",
        port=port,
        security=values.get("security", "none"),
        username=values.get("username", "office"),
        sender_name="The Office",
        timeout=5,
    )


def parsed(raw: bytes) -> MimeMessage:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, MimeMessage)
    return message


def test_eml_files_parse_back_with_the_right_recipient_and_subject(
    office: Office, tmp_path: Path
) -> None:
    (batch,) = office.email_batches()
    messages = office.email_messages(batch.id)
    out = tmp_path / "eml"
    out.mkdir()
    result = export_eml(out, messages, "desk@office.example", "The Office")
    assert [m.client_ref for m in result.without_email] == ["C"]
    assert [p.name for p in result.written] == [
        f"batch{batch.id}-0001-A.eml",
        f"batch{batch.id}-0002-B.eml",
        f"batch{batch.id}-0004-E.eml",
    ]
    first = parsed(result.written[0].read_bytes())
    assert first["To"].addresses[0].addr_spec == "alpha@example.com"
    assert first["To"].addresses[0].display_name == "Alpha Ltd"
    assert first["Subject"] == "Welcome to Gold, Alpha Ltd"
    assert first["From"].addresses[0].addr_spec == "desk@office.example"
    assert first.get_content() == "Dear Alpha Ltd,\nyour revenue is 60,000.00.\n"
    second = parsed(result.written[1].read_bytes())
    assert second["To"].addresses[0].display_name == '=Beta, "the" LLC'
    assert second["Subject"] == 'Welcome to Gold, =Beta, "the" LLC'
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in result.written]  # no temp
    with pytest.raises(MailError, match="does not exist"):
        export_eml(tmp_path / "missing", messages, "desk@office.example")


def test_the_mail_merge_csv_lists_everyone_formula_safe(office: Office, tmp_path: Path) -> None:
    (batch,) = office.email_batches()
    path = tmp_path / "merge.csv"
    assert export_mail_merge_csv(path, office.email_messages(batch.id)) == 4
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["ref"], r["email"], r["status"]) for r in rows] == [
        ("A", "alpha@example.com", "ready"),
        ("B", "beta@example.com", "ready"),
        ("C", "", "no_email"),
        ("E", "refuse@example.com", "ready"),
    ]
    assert rows[1]["name"] == '\'=Beta, "the" LLC'
    assert rows[0]["body"] == "Dear Alpha Ltd,\nyour revenue is 60,000.00.\n"


def test_smtp_delivers_exactly_the_reviewed_messages(
    office: Office, smtp_server: tuple[Recorder, int]
) -> None:
    recorder, port = smtp_server
    (batch,) = office.email_batches()
    messages = {m.client_ref: m for m in office.email_messages(batch.id)}
    reviewed = [messages["A"].id, messages["C"].id]  # B and E were not chosen
    report = send_batch(office, batch.id, reviewed, settings(port), "s3cret")
    assert report.sent == [messages["A"].id]
    assert report.skipped == {messages["C"].id: "the client has no email address"}
    assert len(recorder.received) == 1
    mail_from, to, content = recorder.received[0]
    assert (mail_from, to) == ("desk@office.example", ["alpha@example.com"])
    assert parsed(content)["Subject"] == "Welcome to Gold, Alpha Ltd"
    states = {m.client_ref: m.status for m in office.email_messages(batch.id)}
    assert states == {"A": "sent", "B": "ready", "C": "no_email", "E": "ready"}
    # Pressing Send again never sends a message twice.
    again = send_batch(office, batch.id, reviewed, settings(port), "s3cret")
    assert again.sent == [] and again.skipped[messages["A"].id] == "already sent"
    assert len(recorder.received) == 1
    (attempt,) = office.email_send_log(batch.id)
    assert attempt.ok and attempt.recipient == "alpha@example.com"


def test_a_refused_message_is_logged_and_retryable_never_marked_sent(
    office: Office, smtp_server: tuple[Recorder, int]
) -> None:
    recorder, port = smtp_server
    recorder.refuse.add("refuse@example.com")
    (batch,) = office.email_batches()
    messages = {m.client_ref: m for m in office.email_messages(batch.id)}
    everyone = [m.id for m in messages.values()]
    report = send_batch(office, batch.id, everyone, settings(port), "s3cret")
    assert sorted(report.sent) == sorted([messages["A"].id, messages["B"].id])
    assert list(report.failed) == [messages["E"].id]
    assert "550" in report.failed[messages["E"].id]
    refused = office.email_messages(batch.id, [messages["E"].id])[0]
    assert (refused.status, refused.sent_at, refused.attempts) == ("failed", None, 1)
    assert refused.sendable
    assert sorted(to[0] for _f, to, _c in recorder.received) == [
        "alpha@example.com",
        "beta@example.com",
    ]
    # The mailbox exists now: the retry sends E alone.
    recorder.refuse.clear()
    retry = send_batch(office, batch.id, everyone, settings(port), "s3cret")
    assert retry.sent == [messages["E"].id]
    assert len(recorder.received) == 3
    log = [(a.recipient, a.ok) for a in office.email_send_log(batch.id)]
    assert log.count(("refuse@example.com", False)) == 1
    assert log.count(("refuse@example.com", True)) == 1
    (info,) = office.email_batches()
    assert (info.sent, info.failed, info.ready, info.no_email) == (3, 0, 0, 1)


def test_a_wrong_password_or_no_server_fails_every_message_and_sends_nothing(
    office: Office, smtp_server: tuple[Recorder, int]
) -> None:
    recorder, port = smtp_server
    (batch,) = office.email_batches()
    ids = [m.id for m in office.email_messages(batch.id)]
    report = send_batch(office, batch.id, ids, settings(port), "wrong")
    assert len(report.failed) == 3 and not report.sent
    assert all("535" in reason for reason in report.failed.values())
    nobody = send_batch(office, batch.id, ids, settings(free_port()), "s3cret")
    assert all("cannot reach the mail server" in r for r in nobody.failed.values())
    tls = send_batch(office, batch.id, ids, settings(port, security="starttls"), "s3cret")
    assert all("STARTTLS" in r for r in tls.failed.values())
    assert recorder.received == []
    assert {m.status for m in office.email_messages(batch.id)} == {"failed", "no_email"}
    assert {m.attempts for m in office.email_messages(batch.id) if m.recipient} == {3}


def test_smtp_settings_are_checked_and_saved_without_a_password(office: Office) -> None:
    with pytest.raises(MailError, match="not an email address"):
        SmtpSettings("smtp.example", "nobody").validate()
    with pytest.raises(MailError, match="not a port"):
        SmtpSettings("smtp.example", "a@b.example", port=0).validate()
    saved = SmtpSettings(" smtp.example ", "a@b.example", 465, "ssl", "me").validate()
    office.save_mail_settings_text(saved.to_json())
    text = office.mail_settings_text()
    assert text is not None and "password" not in text
    assert SmtpSettings.from_json(text) == saved
    assert saved.keyring_account == "me@smtp.example"
