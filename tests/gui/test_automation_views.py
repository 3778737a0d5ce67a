"""The automation views: the rules editor, the Tasks view and the email batch review."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from seg_desktop.core.automation import Action, ActionKind, AutomationRule, Target, When
from seg_desktop.gui.automation_view import AutomationView
from seg_desktop.gui.email_batch_dialog import COLUMNS, EmailBatchDialog, MailServerDialog
from seg_desktop.gui.followups_view import FollowUpsView
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import LatestOnlyRunner, TaskRunner
from seg_desktop.io.mail import SmtpSettings
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.office import Office
from tests.helpers.office import client, make_office

AS_OF = dt.date(2026, 3, 15)
WAIT_MS = 10_000
CLIENTS = [
    client("A", "Alpha Ltd", email="alpha@example.com"),
    client("B", "Beta LLC", email="beta@example.com"),
    client("C", "Gamma & Sons"),
]
REVENUE = [(ref, dt.date(2025, 3, 1), 6_000_000) for ref in ("A", "B", "C")]  # all Gold
GOLD = Target.of_tier("Gold")


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    opened, _ids = make_office(tmp_path, CLIENTS, REVENUE)
    yield opened
    opened.close()


@pytest.fixture
def session(qtbot: QtBot, office: Office) -> Iterator[OfficeSession]:
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    opened = OfficeSession(office, runner, preview, today=lambda: AS_OF)
    errors: list[tuple[str, object, str]] = []
    opened.error.connect(lambda what, error, trace: errors.append((what, error, trace)))
    yield opened
    assert preview.shutdown(WAIT_MS)
    assert runner.shutdown(WAIT_MS)
    assert errors == []


def wait_idle(qtbot: QtBot, session: OfficeSession) -> None:
    qtbot.waitUntil(lambda: not session.runner.is_busy(), timeout=WAIT_MS)


def test_a_rule_typed_in_the_editor_is_checked_saved_and_listed(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    view = AutomationView(session)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.editor.tier.count() > 0, timeout=WAIT_MS)
    editor = view.editor
    editor.name.setText("Welcome to Gold")
    editor.target_kind.setCurrentIndex(editor.target_kind.findData(GOLD.kind))
    editor.tier.setCurrentText("Gold")
    editor.title.setText("Call {nmae}")
    assert "unknown field {nmae}" in editor.problem.text()
    assert not view.save_button.isEnabled()
    editor.title.setText("Call {name}")
    assert editor.problem.text() == ""
    assert view.save_button.isEnabled()
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        view.save_rule()
    (info,) = view.rules()
    assert info.rule.sentence == "When a client enters tier Gold: task 'Call {name}' due in 7 days"
    assert [r.rule.name for r in office.automation_rules()] == ["Welcome to Gold"]
    view.select_rule("Welcome to Gold")
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        view.toggle_pause()
    assert office.automation_rules()[0].rule.paused


def test_a_rule_with_a_deleted_segment_is_listed_as_broken(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    segment = office.find_segment("High-Value Clients")
    office.save_automation_rule(
        AutomationRule(
            "Big",
            When.ENTERS,
            Target.of_segment("High-Value Clients"),
            Action(ActionKind.ADD_TAG, tag="big"),
        )
    )
    office.delete_segment(segment.id)
    view = AutomationView(session)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.rules_table.rowCount() == 1, timeout=WAIT_MS)
    state = view.rules_table.item(0, 1)
    assert (
        state is not None and state.text() == "broken: its segment 'High-Value Clients' was deleted"
    )
    view.select_rule("Big")
    assert view.editor.segment.currentText() == "High-Value Clients"  # shown as it was


def test_the_tasks_view_lists_open_tasks_and_marks_them_done(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    office.save_automation_rule(
        AutomationRule(
            "Welcome", When.ENTERS, GOLD, Action(ActionKind.CREATE_TASK, title="Call {name}")
        )
    )
    office.run_segmentation(AS_OF)
    view = FollowUpsView(session)
    qtbot.addWidget(view)
    counts: list[Any] = []
    view.counts_changed.connect(counts.append)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=WAIT_MS)
    titles = [view.model.row_at(row).title for row in range(3)]
    assert titles == ["Call Alpha Ltd", "Call Beta LLC", "Call Gamma & Sons"]
    view.client_filter.setText("beta")
    assert view.model.rowCount() == 1
    view.select_row(0)
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        view.done_button.click()
    assert view.model.rowCount() == 0  # the filter still applies
    view.client_filter.clear()
    assert view.model.rowCount() == 2
    assert counts[-1].open == 2


class Recorder:
    def __init__(self) -> None:
        self.received: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp_port() -> Iterator[tuple[Recorder, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


def test_the_batch_dialog_lists_everyone_and_sends_only_the_ticked_messages(
    qtbot: QtBot, session: OfficeSession, office: Office, smtp_port: tuple[Recorder, int]
) -> None:
    recorder, port = smtp_port
    office.save_automation_rule(
        AutomationRule(
            "Hello",
            When.IS_IN,
            GOLD,
            Action(ActionKind.PREPARE_EMAIL, subject="Hi {name}", body="Your tier: {tier}"),
        )
    )
    office.run_segmentation(AS_OF)
    settings = SmtpSettings("127.0.0.1", "desk@office.example", port, "none")
    office.save_mail_settings_text(settings.to_json())
    (batch,) = office.email_batches()
    looked_up: list[SmtpSettings] = []
    dialog = EmailBatchDialog(
        session, batch.id, password_lookup=lambda s: looked_up.append(s) or None
    )
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: len(dialog.messages()) == 3, timeout=WAIT_MS)
    assert "1 without an email address (listed, not sent): C Gamma & Sons" in dialog.notes.text()
    by_ref = {m.client_ref: m for m in dialog.messages()}
    assert sorted(dialog.ticked_ids()) == sorted([by_ref["A"].id, by_ref["B"].id])
    assert "Subject: Hi Alpha Ltd" in dialog.preview.toPlainText()
    dialog.set_ticked(by_ref["B"].id, False)
    assert dialog.send_button.text() == "Send 1"
    assert recorder.received == []  # nothing before Send
    with qtbot.waitSignal(dialog.sent, timeout=WAIT_MS) as sent:
        assert dialog.send()
    assert sent.args is not None and sent.args[0].sent == [by_ref["A"].id]
    assert recorder.received == [["alpha@example.com"]]
    assert looked_up == []  # no user name: no password asked for
    qtbot.waitUntil(lambda: dialog.messages()[0].status == "sent", timeout=WAIT_MS)
    assert dialog.ticked_ids() == [by_ref["B"].id]  # still to send, ticked again for review
    wait_idle(qtbot, session)


def test_apply_now_broadcasts_the_tags_it_added_to_every_view(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    """Issue 13: "Apply now" added tags the Clients table never showed (no Changes went out)."""
    office.run_segmentation(AS_OF)
    office.save_automation_rule(
        AutomationRule("Tag Gold", When.IS_IN, GOLD, Action(ActionKind.ADD_TAG, tag="gold"))
    )
    view = AutomationView(session)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.rules_table.rowCount() == 1, timeout=WAIT_MS)
    wait_idle(qtbot, session)
    broadcast: list[Changes] = []
    session.changed.connect(broadcast.append)
    with (
        qtbot.waitSignal(session.data_changed, timeout=WAIT_MS),  # what the Clients table follows
        qtbot.waitSignal(view.applied, timeout=WAIT_MS) as applied,
    ):
        view.apply_button.click()
    assert applied.args is not None and applied.args[0].tags_added == 3
    assert view.status.text() == "Applied: 3 tags added."
    (changes,) = broadcast
    assert changes.touches(Area.CLIENTS)
    ids = {office.client_id_of(ref) for ref in ("A", "B", "C")}
    assert changes.clients is None or changes.clients == ids
    assert sorted(office.all_tags()) == ["gold"]
    wait_idle(qtbot, session)


def test_the_first_send_after_filling_in_the_mail_server_sends(
    qtbot: QtBot,
    session: OfficeSession,
    office: Office,
    smtp_port: tuple[Recorder, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13: Send with no server set asks for one, saves it, and sends at once.

    Saving the server used to hold the background runner, and the Send right
    after it was refused without a word ("0 sent", the button greyed out).
    """
    recorder, port = smtp_port
    office.save_automation_rule(
        AutomationRule(
            "Hello", When.IS_IN, GOLD, Action(ActionKind.PREPARE_EMAIL, subject="Hi", body="Hi")
        )
    )
    office.run_segmentation(AS_OF)
    assert office.mail_settings_text() is None
    (batch,) = office.email_batches()

    def fill_in_and_accept(server_dialog: MailServerDialog) -> int:
        # What the user types in the Mail server dialog, then OK.
        server_dialog.host.setText("127.0.0.1")
        server_dialog.port.setValue(port)
        server_dialog.security.setCurrentIndex(server_dialog.security.findData("none"))
        server_dialog.sender_address.setText("desk@office.example")
        server_dialog._accept()
        return int(server_dialog.result())

    monkeypatch.setattr(MailServerDialog, "exec", fill_in_and_accept)
    dialog = EmailBatchDialog(session, batch.id, password_lookup=lambda _s: None)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: len(dialog.messages()) == 3, timeout=WAIT_MS)
    assert dialog.server_label.text() == "No mail server set: Send needs one"
    assert dialog.send_button.text() == "Send 2"
    with qtbot.waitSignal(dialog.sent, timeout=WAIT_MS) as sent:
        dialog.send_button.click()
    assert sent.args is not None and len(sent.args[0].sent) == 2
    assert sorted(rcpt for received in recorder.received for rcpt in received) == [
        "alpha@example.com",
        "beta@example.com",
    ]
    assert dialog.server_label.text() == "2 sent"
    saved = office.mail_settings_text()
    assert saved is not None and SmtpSettings.from_json(saved).host == "127.0.0.1"
    qtbot.waitUntil(
        lambda: [m.status for m in dialog.messages()] == ["sent", "sent", "no_email"],
        timeout=WAIT_MS,
    )
    wait_idle(qtbot, session)


def test_the_tasks_view_follows_the_changes_of_a_run_started_elsewhere(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    office.save_automation_rule(
        AutomationRule(
            "Welcome", When.ENTERS, GOLD, Action(ActionKind.CREATE_TASK, title="Call {name}")
        )
    )
    view = FollowUpsView(session)
    qtbot.addWidget(view)
    wait_idle(qtbot, session)
    assert view.model.rowCount() == 0
    assert view.summary.text() == "0 open tasks: 0 due today, 0 overdue"
    with qtbot.waitSignal(view.loaded, timeout=WAIT_MS):
        session.run_segmentation()  # the window's Run Segmentation: its Changes reach the view
    assert view.model.rowCount() == 3
    assert view.summary.text() == "3 open tasks: 0 due today, 0 overdue"
    wait_idle(qtbot, session)


# --- issue 14: what a first look shows ---------------------------------------------------------


def test_a_new_rule_form_shows_no_error_until_the_user_types(
    qtbot: QtBot, session: OfficeSession
) -> None:
    view = AutomationView(session)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.editor.tier.count() > 0, timeout=WAIT_MS)
    editor = view.editor
    assert editor.problem.text() == ""  # nothing typed yet: nothing in red
    assert not view.save_button.isEnabled()
    assert "needs a name" in view.save_button.toolTip()  # the disabled Save says why
    editor.name.setFocus()
    qtbot.keyClicks(editor.name, "W")
    assert "needs a title" in editor.problem.text()  # begun: what is still missing shows
    qtbot.keyClick(editor.name, Qt.Key.Key_Backspace)
    assert "needs a name" in editor.problem.text()
    assert editor.problem.isVisible()
    view.new_button.click()  # a fresh form is clean again
    assert editor.problem.text() == ""


def test_the_snooze_date_starts_tomorrow_and_a_week_past_a_chosen_tasks_due_date(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    office.save_automation_rule(
        AutomationRule(
            "Welcome", When.ENTERS, GOLD, Action(ActionKind.CREATE_TASK, title="Call {name}")
        )
    )
    office.run_segmentation(AS_OF)
    view = FollowUpsView(session)
    qtbot.addWidget(view)
    tomorrow = AS_OF + dt.timedelta(days=1)
    assert view.snooze_date.date().toPython() == tomorrow
    assert view.snooze_date.text() == tomorrow.isoformat()
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=WAIT_MS)
    view.select_row(0)
    task = view.model.row_at(0)
    assert view.snooze_date.date().toPython() == max(task.due, AS_OF) + dt.timedelta(days=7)
    wait_idle(qtbot, session)


def test_the_batch_dialog_shows_every_address_whole(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    office.save_automation_rule(
        AutomationRule(
            "Hello", When.IS_IN, GOLD, Action(ActionKind.PREPARE_EMAIL, subject="Hi", body="Hi")
        )
    )
    office.run_segmentation(AS_OF)
    (batch,) = office.email_batches()
    dialog = EmailBatchDialog(session, batch.id, password_lookup=lambda _s: None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: len(dialog.messages()) == 3, timeout=WAIT_MS)
    table = dialog.table
    metrics = table.fontMetrics()
    to_column = COLUMNS.index("To")
    for row in range(table.rowCount()):
        item = table.item(row, to_column)
        assert item is not None
        # the text plus the cell's margins on both sides
        assert table.columnWidth(to_column) >= metrics.horizontalAdvance(item.text()) + 6
    header = table.horizontalHeader()
    for column in range(len(COLUMNS)):
        assert header.sectionSize(column) >= metrics.horizontalAdvance(COLUMNS[column])
    wait_idle(qtbot, session)
