"""Review a prepared email batch, then send it, or export it as .eml files or a mail-merge CSV.

Every client of the batch is listed; those without an email address are shown
(greyed, never sendable), not skipped silently. The user ticks the messages to
send and presses Send: only the ticked, still-sendable messages go out, through
the mail server set under "Mail server…" (password in the system keyring).
Sending runs on the session's worker; each message's outcome is recorded as the
server answers, and a failed one stays sendable (tick it and Send again).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.io import secrets
from seg_desktop.io.mail import (
    KEYRING_SERVICE,
    SECURITY_CHOICES,
    MailError,
    SendReport,
    SmtpSettings,
    export_eml,
    export_mail_merge_csv,
    send_batch,
)
from seg_desktop.store.changes import Changes
from seg_desktop.store.records import EmailMessage

PasswordLookup = Callable[[SmtpSettings], str | None]
FolderDialog = Callable[[QWidget, str, str], str]
"""``(parent, caption, directory) -> folder`` as ``QFileDialog.getExistingDirectory``."""
SaveDialog = Callable[[QWidget, str, str, str], tuple[str, str]]

COLUMNS = ("Send", "Ref", "Client", "To", "Subject", "Status")
_SUBJECT = COLUMNS.index("Subject")
_WIDEST_COLUMN = 260
"""A column fitted to its contents grows no wider than this (or a third of the table)."""
STATUS_WORDS = {
    "ready": "ready",
    "sent": "sent",
    "failed": "failed (can be sent again)",
    "no_email": "no email address",
}


def keyring_password(settings: SmtpSettings) -> str | None:
    """The mail server's password from the system keyring."""
    return secrets.load_password(KEYRING_SERVICE, settings.keyring_account)


class MailServerDialog(QDialog):
    """Set the outgoing mail server: host, port, security, user, password, From address."""

    def __init__(self, current: SmtpSettings | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Mail server")
        self.host = QLineEdit(current.host if current else "")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(current.port if current else 587)
        self.security = QComboBox()
        labels = {"starttls": "STARTTLS", "ssl": "SSL/TLS", "none": "None (not encrypted)"}
        for choice in SECURITY_CHOICES:
            self.security.addItem(labels[choice], choice)
        if current is not None:
            self.security.setCurrentIndex(self.security.findData(current.security))
        self.username = QLineEdit(current.username if current else "")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(
            "kept in the system keyring" if secrets.keyring_available() else "no keyring: not saved"
        )
        self.sender_address = QLineEdit(current.sender if current else "")
        self.sender_name = QLineEdit(current.sender_name if current else "")
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b00020")
        form = QFormLayout(self)
        form.addRow("Server", self.host)
        form.addRow("Port", self.port)
        form.addRow("Security", self.security)
        form.addRow("User name", self.username)
        form.addRow("Password", self.password)
        form.addRow("From address", self.sender_address)
        form.addRow("From name", self.sender_name)
        form.addRow(self.problem)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.result_settings: SmtpSettings | None = None

    def settings(self) -> SmtpSettings:
        """The typed settings, checked (MailError if wrong)."""
        return SmtpSettings(
            host=self.host.text(),
            sender=self.sender_address.text(),
            port=self.port.value(),
            security=self.security.currentData(),
            username=self.username.text(),
            sender_name=self.sender_name.text(),
        ).validate()

    def _accept(self) -> None:
        try:
            self.result_settings = self.settings()
        except MailError as error:
            self.problem.setText(str(error))
            return
        self.accept()


class EmailBatchDialog(QDialog):
    """Review one batch; Send the ticked messages, or export them."""

    sent = Signal(object)
    """SendReport after a Send."""
    loaded = Signal()
    """The messages were (re)loaded."""

    def __init__(
        self,
        session: OfficeSession,
        batch_id: int,
        parent: QWidget | None = None,
        *,
        password_lookup: PasswordLookup = keyring_password,
        folder_dialog: FolderDialog = QFileDialog.getExistingDirectory,
        save_dialog: SaveDialog = QFileDialog.getSaveFileName,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self.batch_id = batch_id
        self._password_lookup = password_lookup
        self._folder_dialog = folder_dialog
        self._save_dialog = save_dialog
        self._messages: list[EmailMessage] = []
        self.smtp: SmtpSettings | None = None
        self._server_edited = False
        self.setWindowTitle(f"Email batch {batch_id}: review and send")
        self.resize(900, 600)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(_SUBJECT, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.preview)
        split.setSizes([380, 180])

        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.server_label = QLabel()
        self.server_button = QPushButton("Mail server…")
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(False)
        self.eml_button = QPushButton("Export .eml files…")
        self.csv_button = QPushButton("Export mail-merge CSV…")
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.server_button)
        buttons.addWidget(self.server_label, 1)
        buttons.addWidget(self.eml_button)
        buttons.addWidget(self.csv_button)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.notes)
        layout.addLayout(buttons)

        self.table.itemSelectionChanged.connect(self._show_selected)
        self.table.itemChanged.connect(lambda _item: self._update_buttons())
        self.server_button.clicked.connect(self.edit_server)
        self.send_button.clicked.connect(self.send)
        self.eml_button.clicked.connect(self.export_eml)
        self.csv_button.clicked.connect(self.export_csv)
        self.close_button.clicked.connect(self.accept)
        self._load_server()
        self.reload()

    def _fit_columns(self) -> None:
        """Show the address and name in full (up to a third of the table); Subject stretches."""
        widest = max(self.table.viewport().width() // 3, _WIDEST_COLUMN)
        for column in range(len(COLUMNS)):
            if column == _SUBJECT:
                continue
            self.table.resizeColumnToContents(column)
            if self.table.columnWidth(column) > widest:
                self.table.setColumnWidth(column, widest)  # the tooltip has the rest

    # --- loading ------------------------------------------------------------------------------

    def _load_server(self) -> None:
        office = self._session.office

        def work(_p: ProgressFn, _c: CancelledFn) -> str | None:
            return office.mail_settings_text()

        self.server_label.setText("Reading the mail server…")
        self._session.submit("Reading the mail server", work, self._server_loaded, background=True)

    def _server_loaded(self, text: str | None) -> None:
        if self._server_edited:
            return  # the user set one meanwhile: theirs stands (and is being saved)
        try:
            self.smtp = SmtpSettings.from_json(text) if text else None
        except MailError:
            self.smtp = None
        self._show_server()

    def _show_server(self) -> None:
        if self.smtp is None:
            self.server_label.setText("No mail server set: Send needs one")
        else:
            self.server_label.setText(f"From {self.smtp.sender} via {self.smtp.host}")

    def reload(self) -> None:
        """Load the batch's messages on the worker."""
        office, batch_id = self._session.office, self.batch_id

        def work(_p: ProgressFn, _c: CancelledFn) -> list[EmailMessage]:
            return office.email_messages(batch_id)

        self._session.submit("Loading the email batch", work, self._loaded, background=True)

    def _loaded(self, messages: list[EmailMessage]) -> None:
        self._messages = messages
        self.table.blockSignals(True)
        self.table.setRowCount(len(messages))
        for row, message in enumerate(messages):
            tick = QTableWidgetItem()
            if message.sendable:
                tick.setFlags(
                    Qt.ItemFlag.ItemIsUserCheckable
                    | Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                )
                tick.setCheckState(Qt.CheckState.Checked)
            else:
                tick.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
            cells = [
                tick,
                QTableWidgetItem(message.client_ref),
                QTableWidgetItem(message.client_name),
                QTableWidgetItem(message.recipient or "—"),
                QTableWidgetItem(message.subject),
                QTableWidgetItem(STATUS_WORDS.get(message.status, message.status)),
            ]
            if message.last_error:
                cells[5].setToolTip(message.last_error)
            for cell in cells[2:5]:
                cell.setToolTip(cell.text())  # in full, should the column be too narrow
            for column, item in enumerate(cells):
                if not message.sendable:
                    item.setForeground(self.palette().placeholderText())
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        self._fit_columns()
        without = [m for m in messages if m.status == "no_email"]
        sent = sum(1 for m in messages if m.status == "sent")
        failed = sum(1 for m in messages if m.status == "failed")
        notes = [f"{len(messages):,} clients in this batch; {sent:,} sent, {failed:,} failed."]
        if without:
            names = ", ".join(f"{m.client_ref} {m.client_name}" for m in without[:10])
            more = f" and {len(without) - 10:,} more" if len(without) > 10 else ""
            notes.append(
                f"{len(without):,} without an email address (listed, not sent): {names}{more}."
            )
        self.notes.setText(" ".join(notes))
        if messages and not self.table.selectedItems():
            self.table.selectRow(0)
        self._update_buttons()
        self.loaded.emit()

    # --- reviewing ----------------------------------------------------------------------------

    def messages(self) -> list[EmailMessage]:
        """The batch's messages as listed."""
        return list(self._messages)

    def ticked_ids(self) -> list[int]:
        """The messages ticked to send."""
        ids = []
        for row, message in enumerate(self._messages):
            item = self.table.item(row, 0)
            if item is not None and message.sendable and item.checkState() == Qt.CheckState.Checked:
                ids.append(message.id)
        return ids

    def set_ticked(self, message_id: int, ticked: bool) -> None:
        """Tick or untick one message."""
        for row, message in enumerate(self._messages):
            item = self.table.item(row, 0)
            if message.id == message_id and item is not None and message.sendable:
                item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)

    def _show_selected(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if not rows:
            self.preview.clear()
            return
        message = self._messages[min(rows)]
        to = message.recipient or "(no email address)"
        self.preview.setPlainText(
            f"To: {message.client_name} <{to}>\nSubject: {message.subject}\n\n{message.body}"
        )

    def _update_buttons(self) -> None:
        ticked = len(self.ticked_ids())
        self.send_button.setText(f"Send {ticked:,}" if ticked else "Send")
        self.send_button.setEnabled(ticked > 0)

    # --- server, sending, exporting -------------------------------------------------------------

    def edit_server(self) -> None:
        """Ask for the mail server; save it (the password to the keyring)."""
        dialog = MailServerDialog(self.smtp, self)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.result_settings is None:
            return
        self.smtp = dialog.result_settings
        self._server_edited = True
        office, text = self._session.office, self.smtp.to_json()

        def work(_p: ProgressFn, _c: CancelledFn) -> Changes:
            return office.save_mail_settings_text(text)

        def failed(error: BaseException, _trace: str) -> None:
            self.notes.setText(f"The mail server was not saved: {error}")

        # Queued, never refused: a Send pressed right after waits for it (issue 13: the
        # first Send after filling in the server used to be refused without a word).
        self._session.submit("Saving the mail server", work, None, failed)
        if dialog.password.text():
            saved = secrets.save_password(
                KEYRING_SERVICE, self.smtp.keyring_account, dialog.password.text()
            )
            if not saved:
                self.notes.setText("No system keyring: the password was not saved.")
        self._show_server()

    def send(self) -> bool:
        """Send the ticked messages on the worker; False if nothing could start."""
        ids = self.ticked_ids()
        if not ids:
            return False
        if self.smtp is None:
            self.edit_server()
            if self.smtp is None:
                return False
        settings, office, batch_id = self.smtp, self._session.office, self.batch_id
        password = self._password_lookup(settings) if settings.username else None

        def work(progress: ProgressFn, cancelled: CancelledFn) -> SendReport:
            return send_batch(office, batch_id, ids, settings, password, progress, cancelled)

        def failed(error: BaseException, _trace: str) -> None:
            # What was sent before the failure is recorded: the reload shows it.
            self.server_label.setText(f"Sending stopped: {error}")
            self.reload()

        self.send_button.setEnabled(False)
        self.server_label.setText(f"Sending {len(ids):,}…")
        self._session.submit(f"Sending batch {batch_id}", work, self._sent, failed)
        return True

    def _sent(self, report: SendReport) -> None:
        self.reload()
        self.server_label.setText(report.describe())
        self.sent.emit(report)

    def export_eml(self) -> Path | None:
        """Write the messages with an address as .eml files into a chosen folder."""
        folder = self._folder_dialog(self, "Export .eml files to", str(Path.home()))
        if not folder:
            return None
        sender = self.smtp.sender if self.smtp else "office@localhost.localdomain"
        name = self.smtp.sender_name if self.smtp else ""
        try:
            result = export_eml(Path(folder), self._messages, sender, name)
        except (MailError, OSError) as error:
            self.notes.setText(f"Nothing more was exported: {error}")
            return None
        missing = (
            f"; {len(result.without_email):,} without an email address not written"
            if result.without_email
            else ""
        )
        self.notes.setText(f"{len(result.written):,} .eml files written to {folder}{missing}.")
        return Path(folder)

    def export_csv(self) -> Path | None:
        """Write the whole batch as a mail-merge CSV."""
        chosen, _filter = self._save_dialog(
            self,
            "Export mail-merge CSV",
            str(Path.home() / f"batch-{self.batch_id}.csv"),
            "CSV file (*.csv)",
        )
        if not chosen:
            return None
        path = Path(chosen) if chosen.lower().endswith(".csv") else Path(chosen + ".csv")
        try:
            count = export_mail_merge_csv(path, self._messages)
        except OSError as error:
            self.notes.setText(f"The CSV was not written: {error}")
            return None
        self.notes.setText(f"{count:,} rows written to {path}.")
        return path
