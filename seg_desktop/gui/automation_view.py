"""Automation: the rules editor, the activity log and the prepared email batches.

Rules tab: every rule in one sentence with its state (active, paused, or
broken with the reason: a rule whose segment was deleted is shown, never
dropped); the editor below builds "when a client enters / leaves / is in
<segment or tier>, do <action>". Templates are checked as they are typed and
an unknown field is named under the field; Save stays disabled until the rule
is valid. Activity tab: what every rule did, exportable as CSV. Emails tab: the
batches; Review… opens :class:`EmailBatchDialog` (nothing is sent before the
user presses Send there).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.core.automation import (
    TEMPLATE_FIELDS,
    Action,
    ActionKind,
    AutomationError,
    AutomationRule,
    Target,
    TargetKind,
    When,
    validate_rule,
)
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.gui.email_batch_dialog import EmailBatchDialog
from seg_desktop.gui.pages import table_page
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.io.activity_export import write_activity_csv
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.records import ActivityEntry, AutomationOutcome, BatchInfo, RuleInfo

SaveDialog = Callable[[QWidget, str, str, str], tuple[str, str]]
OpenBatch = Callable[[OfficeSession, int, QWidget], None]
Loaded = tuple[
    list[RuleInfo], list[str], dict[str, list[str]], list[ActivityEntry], list[BatchInfo]
]

WHEN_WORDS = {When.ENTERS: "enters", When.LEAVES: "leaves", When.IS_IN: "is in"}
ACTION_PAGES = (
    ActionKind.CREATE_TASK,
    ActionKind.ADD_TAG,
    ActionKind.REMOVE_TAG,
    ActionKind.PREPARE_EMAIL,
)


def open_batch_dialog(session: OfficeSession, batch_id: int, parent: QWidget) -> None:
    """Show a batch for review (modal)."""
    EmailBatchDialog(session, batch_id, parent).exec()


class RuleEditor(QWidget):
    """The form of one rule; ``rule()`` raises AutomationError while it is not valid."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit()
        self.when = QComboBox()
        for when, words in WHEN_WORDS.items():
            self.when.addItem(words, when)
        self.target_kind = QComboBox()
        self.target_kind.addItem("segment", TargetKind.SEGMENT)
        self.target_kind.addItem("tier", TargetKind.TIER)
        self.segment = QComboBox()
        self.strategy = QComboBox()
        self.strategy.addItem("Individual clients", StrategyKind.INDIVIDUAL.value)
        self.strategy.addItem("Client groups", StrategyKind.GROUP.value)
        self.tier = QComboBox()
        self._tiers: dict[str, list[str]] = {}
        target_row = QHBoxLayout()
        target_row.addWidget(self.target_kind)
        target_row.addWidget(self.segment, 2)
        target_row.addWidget(self.strategy, 1)
        target_row.addWidget(self.tier, 1)

        self.action = QComboBox()
        for kind in ACTION_PAGES:
            self.action.addItem(kind.label, kind)
        self.pages = QStackedWidget()
        # Create a task
        self.title = QLineEdit()
        self.title.setPlaceholderText("e.g. Welcome call with {name}")
        self.due = QSpinBox()
        self.due.setRange(0, 3650)
        self.due.setValue(7)
        self.due.setSuffix(" days")
        self.note = QPlainTextEdit()
        self.note.setMaximumHeight(70)
        self.assignee = QLineEdit()
        task_page = QWidget()
        task_form = QFormLayout(task_page)
        task_form.addRow("Title", self.title)
        task_form.addRow("Due in", self.due)
        task_form.addRow("Note", self.note)
        task_form.addRow("Assign to", self.assignee)
        # Tags (one page for add and remove)
        self.tag = QLineEdit()
        tag_page = QWidget()
        QFormLayout(tag_page).addRow("Tag", self.tag)
        # Email
        self.subject = QLineEdit()
        self.body = QPlainTextEdit()
        email_page = QWidget()
        email_form = QFormLayout(email_page)
        email_form.addRow("Subject", self.subject)
        email_form.addRow("Body", self.body)
        self.pages.addWidget(task_page)
        self.pages.addWidget(tag_page)
        self.pages.addWidget(email_page)

        fields = ", ".join("{" + name + "}" for name in TEMPLATE_FIELDS)
        self.fields_help = QLabel(f"Fields for titles, notes and emails: {fields}")
        self.fields_help.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b00020")
        self.problem.setWordWrap(True)

        form = QFormLayout(self)
        form.addRow("Name", self.name)
        when_row = QHBoxLayout()
        when_row.addWidget(QLabel("When a client"))
        when_row.addWidget(self.when)
        when_row.addLayout(target_row, 1)
        form.addRow(when_row)
        form.addRow("Do", self.action)
        form.addRow(self.pages)
        form.addRow(self.fields_help)
        form.addRow(self.problem)

        for line in (self.name, self.title, self.assignee, self.tag, self.subject):
            line.textChanged.connect(self._edited)
        for text in (self.note, self.body):
            text.textChanged.connect(self._edited)
        for combo in (self.when, self.segment, self.tier, self.action, self.target_kind):
            combo.currentIndexChanged.connect(lambda _i: self._edited())
        self.strategy.currentIndexChanged.connect(lambda _i: self._fill_tiers())
        self.due.valueChanged.connect(lambda _v: self._edited())
        self._paused = False
        # A new, untouched form is not an error: what is wrong shows once the user
        # has typed or picked something (or tried to save).
        self._touched = False
        for line in (self.name, self.title, self.assignee, self.tag, self.subject):
            line.textEdited.connect(self._user_edited)
        for combo in (self.when, self.segment, self.tier, self.action, self.target_kind):
            combo.activated.connect(self._user_edited)
        self._edited()

    def _user_edited(self, *_args: object) -> None:
        self._touched = True
        self._edited()

    def show_problems(self) -> None:
        """Show what keeps the rule from being saved (after a save was tried)."""
        self._user_edited()

    def problem_text(self) -> str:
        """What keeps the rule from being saved ("" when it can be saved)."""
        try:
            self.rule()
        except AutomationError as error:
            return str(error)
        return ""

    def set_choices(self, segments: list[str], tiers: dict[str, list[str]]) -> None:
        """The segments and each strategy's tier names to choose from."""
        current = self.segment.currentText()
        self.segment.blockSignals(True)
        self.segment.clear()
        self.segment.addItems(segments)
        if current in segments:
            self.segment.setCurrentText(current)
        self.segment.blockSignals(False)
        self._tiers = tiers
        self._fill_tiers()

    def _fill_tiers(self) -> None:
        current = self.tier.currentText()
        names = self._tiers.get(self.strategy.currentData(), [])
        self.tier.blockSignals(True)
        self.tier.clear()
        self.tier.addItems(names)
        if current in names:
            self.tier.setCurrentText(current)
        self.tier.blockSignals(False)
        self._edited()

    def _edited(self) -> None:
        kind = ActionKind(self.action.currentData())
        self.pages.setCurrentIndex(
            {ActionKind.CREATE_TASK: 0, ActionKind.PREPARE_EMAIL: 2}.get(kind, 1)
        )
        segment = TargetKind(self.target_kind.currentData()) is TargetKind.SEGMENT
        self.segment.setVisible(segment)
        self.strategy.setVisible(not segment)
        self.tier.setVisible(not segment)
        problem = self.problem_text()
        begun = self._touched or bool(self.name.text().strip())
        self.problem.setText(problem if begun else "")
        self.changed.emit()

    def rule(self) -> AutomationRule:
        """The rule as typed, validated (AutomationError naming what is wrong)."""
        if TargetKind(self.target_kind.currentData()) is TargetKind.SEGMENT:
            target = Target.of_segment(self.segment.currentText())
        else:
            target = Target.of_tier(self.tier.currentText(), self.strategy.currentData())
        kind = ActionKind(self.action.currentData())
        action = Action(
            kind,
            title=self.title.text(),
            note=self.note.toPlainText(),
            due_in_days=self.due.value(),
            assignee=self.assignee.text(),
            tag=self.tag.text(),
            subject=self.subject.text(),
            body=self.body.toPlainText(),
        )
        return validate_rule(
            AutomationRule(
                self.name.text(), When(self.when.currentData()), target, action, self._paused
            )
        )

    def show_rule(self, rule: AutomationRule | None) -> None:
        """Fill the form from a rule (None: a new, empty one)."""
        rule = rule or AutomationRule(
            "",
            When.ENTERS,
            Target.of_segment(self.segment.currentText()),
            Action(ActionKind.CREATE_TASK),
        )
        self._paused = rule.paused
        self.name.setText(rule.name)
        self.when.setCurrentIndex(self.when.findData(rule.when))
        self.target_kind.setCurrentIndex(self.target_kind.findData(rule.target.kind))
        if rule.target.kind is TargetKind.SEGMENT:
            if self.segment.findText(rule.target.segment) < 0:
                self.segment.addItem(rule.target.segment)  # a deleted segment, shown as it was
            self.segment.setCurrentText(rule.target.segment)
        else:
            self.strategy.setCurrentIndex(self.strategy.findData(rule.target.strategy))
            if self.tier.findText(rule.target.tier) < 0:
                self.tier.addItem(rule.target.tier)
            self.tier.setCurrentText(rule.target.tier)
        action = rule.action
        self.action.setCurrentIndex(self.action.findData(action.kind))
        self.title.setText(action.title)
        self.due.setValue(action.due_in_days)
        self.note.setPlainText(action.note)
        self.assignee.setText(action.assignee)
        self.tag.setText(action.tag)
        self.subject.setText(action.subject)
        self.body.setPlainText(action.body)
        self._touched = bool(rule.name)  # a saved rule's problems show at once
        self._edited()


class AutomationView(QWidget):
    """Rules, their activity and their email batches."""

    rules_changed = Signal()
    """A rule was saved, deleted, paused or resumed."""
    loaded = Signal()
    """Rules, activity and batches were (re)loaded."""
    applied = Signal(object)
    """AutomationOutcome of Apply now."""

    def __init__(
        self,
        session: OfficeSession,
        parent: QWidget | None = None,
        *,
        save_dialog: SaveDialog = QFileDialog.getSaveFileName,
        open_batch: OpenBatch = open_batch_dialog,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._save_dialog = save_dialog
        self._open_batch = open_batch
        self._rules: list[RuleInfo] = []
        self._activity: list[ActivityEntry] = []
        self._batches: list[BatchInfo] = []

        # Rules tab
        self.rules_table = QTableWidget(0, 3)
        self.rules_table.setHorizontalHeaderLabels(["Rule", "State", "What it does"])
        self.rules_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.rules_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.rules_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.rules_table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.rules_table.verticalHeader().hide()
        self.editor = RuleEditor()
        self.new_button = QPushButton("New rule")
        self.save_button = QPushButton("Save rule")
        self.pause_button = QPushButton("Pause")
        self.delete_button = QPushButton("Delete")
        self.apply_button = QPushButton("Apply now")
        self.apply_button.setToolTip("Run every active rule now against the current memberships")
        self.status = QLabel()
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.save_button, self.pause_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        rules_page = QWidget()
        rules_layout = QVBoxLayout(rules_page)
        rules_layout.addWidget(self.rules_table, 1)
        rules_layout.addWidget(self.editor)
        rules_layout.addLayout(buttons)
        rules_layout.addWidget(self.status)

        # Activity tab
        self.activity_table = QTableWidget(0, 5)
        self.activity_table.setHorizontalHeaderLabels(
            ["When", "Rule", "Client", "What was done", "Cause"]
        )
        self.activity_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.activity_table.horizontalHeader().setSectionResizeMode(
            3, QHeaderView.ResizeMode.Stretch
        )
        self.activity_table.verticalHeader().hide()
        self.export_button = QPushButton("Export CSV…")
        activity_page = table_page(self.activity_table, self.export_button)

        # Emails tab
        self.batches_table = QTableWidget(0, 5)
        self.batches_table.setHorizontalHeaderLabels(
            ["Batch", "Prepared", "Rule", "Messages", "State"]
        )
        self.batches_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.batches_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.batches_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.batches_table.horizontalHeader().setSectionResizeMode(
            4, QHeaderView.ResizeMode.Stretch
        )
        self.batches_table.verticalHeader().hide()
        self.review_button = QPushButton("Review and send…")
        emails_page = table_page(self.batches_table, self.review_button)

        self.tabs = QTabWidget()
        self.tabs.addTab(rules_page, "Rules")
        self.tabs.addTab(activity_page, "Activity")
        self.tabs.addTab(emails_page, "Emails")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

        self.rules_table.itemSelectionChanged.connect(self._rule_selected)
        self.editor.changed.connect(self._update_buttons)
        self.new_button.clicked.connect(self.new_rule)
        self.save_button.clicked.connect(self.save_rule)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.delete_button.clicked.connect(self.delete_rule)
        self.apply_button.clicked.connect(self.apply_now)
        self.export_button.clicked.connect(self.export_activity)
        self.review_button.clicked.connect(self.review_batch)
        self.batches_table.itemDoubleClicked.connect(lambda _item: self.review_batch())
        session.changed.connect(self._office_changed)
        self.refresh()

    # --- loading ------------------------------------------------------------------------------

    def _office_changed(self, changes: Changes) -> None:
        # Rules name segments and tiers; a run, a recompute or Apply now writes activity,
        # tasks and batches; a send changes a batch's counts.
        if changes.touches(
            Area.AUTOMATION, Area.SEGMENTS, Area.STRATEGIES, Area.RUN, Area.EMAIL, Area.DATE
        ):
            self.refresh()

    def refresh(self) -> None:
        """Reload rules, choices, activity and batches on the worker."""
        office = self._session.office

        def work(_p: ProgressFn, _c: CancelledFn) -> Loaded:
            segments = [s.definition.name for s in office.segments()]
            tiers = {kind.value: list(s.names) for kind, s in office.strategies().items()}
            return (
                office.automation_rules(),
                segments,
                tiers,
                office.activity(limit=2000),
                office.email_batches(),
            )

        self._session.submit(
            "Loading automation rules",
            work,
            self._loaded,
            background=True,
            key=f"automation-view-{id(self)}",
        )

    def _loaded(self, result: Loaded) -> None:
        rules, segments, tiers, activity, batches = result
        chosen = self.selected_rule()
        self._rules, self._activity, self._batches = rules, activity, batches
        self.editor.set_choices(segments, tiers)
        self.rules_table.blockSignals(True)
        self.rules_table.setRowCount(len(rules))
        for row, info in enumerate(rules):
            state = info.state if info.broken is None else f"broken: {info.broken}"
            items = [
                QTableWidgetItem(info.rule.name),
                QTableWidgetItem(state),
                QTableWidgetItem(info.rule.sentence),
            ]
            if info.broken is not None:
                for item in items:
                    item.setForeground(self.palette().placeholderText())
                items[1].setToolTip(
                    f"This rule does not run: {info.broken}. "
                    "Point it at another segment or tier, or delete it."
                )
            for column, item in enumerate(items):
                self.rules_table.setItem(row, column, item)
        self.rules_table.blockSignals(False)
        if chosen is not None:
            for row, info in enumerate(rules):
                if info.id == chosen.id:
                    self.rules_table.selectRow(row)
        self.activity_table.setRowCount(len(activity))
        for row, entry in enumerate(activity):
            values = (
                f"{entry.at:%Y-%m-%d %H:%M}",
                entry.rule_name,
                f"{entry.client_ref} {entry.client_name}",
                entry.detail,
                entry.cause,
            )
            for column, value in enumerate(values):
                self.activity_table.setItem(row, column, QTableWidgetItem(value))
        self.batches_table.setRowCount(len(batches))
        for row, batch in enumerate(batches):
            state = f"{batch.sent:,} sent, {batch.sendable:,} to send"
            if batch.no_email:
                state += f", {batch.no_email:,} without an email address"
            values = (
                str(batch.id),
                f"{batch.created_at:%Y-%m-%d %H:%M}",
                batch.rule_name,
                f"{batch.total:,}",
                state,
            )
            for column, value in enumerate(values):
                self.batches_table.setItem(row, column, QTableWidgetItem(value))
        self._update_buttons()
        self.loaded.emit()

    # --- rules --------------------------------------------------------------------------------

    def rules(self) -> list[RuleInfo]:
        """The rules as listed."""
        return list(self._rules)

    def selected_rule(self) -> RuleInfo | None:
        """The selected rule, if any."""
        rows = {index.row() for index in self.rules_table.selectedIndexes()}
        return self._rules[min(rows)] if rows and min(rows) < len(self._rules) else None

    def select_rule(self, name: str) -> None:
        """Select a rule by name."""
        for row, info in enumerate(self._rules):
            if info.rule.name == name:
                self.rules_table.selectRow(row)

    def _rule_selected(self) -> None:
        info = self.selected_rule()
        if info is not None:
            self.editor.show_rule(info.rule)
        self._update_buttons()

    def _update_buttons(self) -> None:
        info = self.selected_rule()
        try:
            self.editor.rule()
            valid = True
        except AutomationError:
            valid = False
        self.save_button.setEnabled(valid)
        # A disabled Save says why (the form shows it only once the user has begun).
        self.save_button.setToolTip(self.editor.problem_text() or "Save the rule")
        self.pause_button.setEnabled(
            info is not None and (info.broken is None or not info.rule.paused)
        )
        self.pause_button.setText("Resume" if info is not None and info.rule.paused else "Pause")
        self.delete_button.setEnabled(info is not None)
        self.review_button.setEnabled(
            bool(self.batches_table.selectedIndexes()) or bool(self._batches)
        )

    def new_rule(self) -> None:
        """Clear the selection and the form for a new rule."""
        self.rules_table.clearSelection()
        self.editor.show_rule(None)
        self.editor.name.setFocus()

    def _write(
        self, name: str, action: Callable[[], Changes | tuple[int, Changes]], done_text: str
    ) -> bool:
        """Queue a rule's write; the session broadcasts its Changes, which reload this view."""

        def work(_p: ProgressFn, _c: CancelledFn) -> Changes | tuple[int, Changes]:
            return action()

        def done(_result: object) -> None:
            self.status.setText(done_text)
            self.rules_changed.emit()

        self._session.submit(name, work, done, self._failed)
        return True

    def _failed(self, error: BaseException, _trace: str) -> None:
        self.status.setText(f"Nothing was changed: {error}")

    def save_rule(self) -> bool:
        """Save the form as the selected rule (or a new one)."""
        try:
            rule = self.editor.rule()
        except AutomationError as error:
            self.status.setText(str(error))
            self.editor.show_problems()
            return False
        info = self.selected_rule()
        rule_id = info.id if info is not None else None
        if info is not None:
            rule = AutomationRule(rule.name, rule.when, rule.target, rule.action, info.rule.paused)
        office = self._session.office
        return self._write(
            f"Saving rule {rule.name}",
            lambda: office.save_automation_rule(rule, rule_id),
            f"Rule '{rule.name}' saved; it acts at the next run or recompute.",
        )

    def toggle_pause(self) -> bool:
        """Pause the selected rule, or resume it."""
        info = self.selected_rule()
        if info is None:
            return False
        office, paused = self._session.office, not info.rule.paused
        words = "paused" if paused else "resumed"
        return self._write(
            f"Pausing rule {info.rule.name}",
            lambda: office.pause_automation_rule(info.id, paused),
            f"Rule '{info.rule.name}' {words}.",
        )

    def delete_rule(self) -> bool:
        """Delete the selected rule (its activity, tasks and batches stay)."""
        info = self.selected_rule()
        if info is None:
            return False
        office = self._session.office
        return self._write(
            f"Deleting rule {info.rule.name}",
            lambda: office.delete_automation_rule(info.id),
            f"Rule '{info.rule.name}' deleted; what it did stays in the activity log.",
        )

    def apply_now(self) -> bool:
        """Evaluate every active rule now (the tags it sets reach every view: the Changes)."""
        office = self._session.office

        def work(_p: ProgressFn, _c: CancelledFn) -> tuple[AutomationOutcome, Changes]:
            return office.apply_automations()

        def done(result: tuple[AutomationOutcome, Changes]) -> None:
            outcome = result[0]
            self.status.setText(f"Applied: {outcome.describe()}.")
            self.applied.emit(outcome)

        self._session.submit("Applying automation rules", work, done, self._failed)
        return True

    # --- activity and emails ------------------------------------------------------------------

    def export_activity(self) -> Path | None:
        """Write the whole activity log to a chosen CSV file."""
        chosen, _filter = self._save_dialog(
            self,
            "Export the activity log",
            str(Path.home() / "automation-activity.csv"),
            "CSV file (*.csv)",
        )
        if not chosen:
            return None
        path = Path(chosen) if chosen.lower().endswith(".csv") else Path(chosen + ".csv")
        office = self._session.office

        def work(_p: ProgressFn, _c: CancelledFn) -> int:
            return write_activity_csv(path, office.activity())

        self._session.submit(
            "Exporting the activity log",
            work,
            lambda n: self.status.setText(f"{n:,} actions written to {path}."),
        )
        return path

    def review_batch(self) -> None:
        """Open the selected (or newest) batch for review."""
        rows = {index.row() for index in self.batches_table.selectedIndexes()}
        if not self._batches:
            return
        batch = self._batches[min(rows)] if rows else self._batches[0]
        self._open_batch(self._session, batch.id, self)
        self.refresh()
