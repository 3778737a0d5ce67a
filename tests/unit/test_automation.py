"""Automation rules: triggers over three runs, no repeats, templates, tasks, tags, email batches,
the definitions file, the command line and the schema 2 -> 3 upgrade (both engines)."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from seg_desktop import cli
from seg_desktop.core.automation import (
    Action,
    ActionKind,
    AutomationError,
    AutomationRule,
    ClientValues,
    Target,
    TemplateError,
    When,
    baseline,
    check_template,
    evaluate,
    parse_template,
    render,
    render_header,
    template_values,
    validate_rule,
)
from seg_desktop.core.rules import Criterion, Operator, RuleField, SegmentDefinition
from seg_desktop.core.tiers import StrategyKind, Tier
from seg_desktop.io.definitions_file import (
    DefinitionsFileError,
    parse_definitions,
    read_definitions,
    write_definitions,
)
from seg_desktop.store import automation as automation_store
from seg_desktop.store.errors import StoreError
from seg_desktop.store.office import Office
from seg_desktop.store.records import Definitions
from seg_desktop.store.schema import AUTOMATION_TABLES, SCHEMA_VERSION
from tests.helpers.office import (
    add_clients,
    add_revenue,
    client,
    db_table_names,
    facts,
    make_office,
    sqlite_scalar,
    table_rows,
)

D = dt.date
AS_OF = D(2026, 3, 15)  # M = 12, B = 1: 2025-03-01 .. 2026-02-28, n = 12; Gold from 60,000.00
IND = StrategyKind.INDIVIDUAL
CLIENTS = [
    client("A", "Alpha Ltd", email="alpha@example.com"),
    client("B", "Beta LLC", email="beta@example.com"),
    client("C", "Gamma & Sons"),  # no email
]
REVENUE = [
    ("A", D(2025, 3, 1), 6_000_000),  # Gold exactly
    ("B", D(2025, 3, 1), 1_200_000),  # Silver exactly
]
GOLD = Target.of_tier("Gold")
BIG = SegmentDefinition(
    "Big", (Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "20000"),)
)


def task_rule(name: str, when: When, target: Target = GOLD, **values: object) -> AutomationRule:
    action = Action(
        ActionKind.CREATE_TASK,
        title=str(values.get("title", "Call {name}")),
        note=str(values.get("note", "Revenue {total_revenue}")),
        due_in_days=int(values.get("due_in_days", 7)),  # type: ignore[call-overload]
    )
    return AutomationRule(name, when, target, action, bool(values.get("paused", False)))


def tag_rule(
    name: str, when: When, tag: str, target: Target = GOLD, add: bool = True
) -> AutomationRule:
    kind = ActionKind.ADD_TAG if add else ActionKind.REMOVE_TAG
    return AutomationRule(name, when, target, Action(kind, tag=tag))


def email_rule(name: str, when: When, target: Target) -> AutomationRule:
    action = Action(
        ActionKind.PREPARE_EMAIL,
        subject="Hello {name}",
        body="Dear {name},\nyour revenue is {total_revenue} ({tier}).\n",
    )
    return AutomationRule(name, when, target, action)


@pytest.fixture
def office(office_url: str) -> Iterator[tuple[Office, dict[str, int]]]:
    opened, ids = make_office(office_url, CLIENTS, REVENUE)
    yield opened, ids
    opened.close()


def tasks_by_ref(office: Office) -> list[tuple[str, str]]:
    return sorted((t.client_ref, t.title) for t in office.tasks(include_done=True))


def tags_of(office: Office, client_id: int) -> set[str]:
    (found,) = office.client_facts([client_id])
    return set(found.tags)


# --- core -------------------------------------------------------------------------------------


def test_evaluate_fires_on_entering_leaving_and_entering_for_is_in() -> None:
    previous, current = frozenset({1, 2}), frozenset({2, 3})
    assert evaluate(When.ENTERS, previous, current).fired == {3}
    assert evaluate(When.LEAVES, previous, current).fired == {1}
    assert evaluate(When.IS_IN, previous, current).fired == {3}
    assert evaluate(When.ENTERS, current, current).fired == frozenset()  # staying fires nothing
    assert baseline(When.ENTERS, current) == current
    assert baseline(When.LEAVES, current) == current
    assert baseline(When.IS_IN, current) == frozenset()


def test_a_template_with_an_unknown_field_is_refused_naming_it() -> None:
    with pytest.raises(TemplateError, match=r"unknown field \{nmae\}") as caught:
        check_template("Dear {nmae}", "subject")
    assert caught.value.field == "nmae"
    assert "{name}" in str(caught.value)  # the fields there are, listed
    for bad in ("{name.__class__}", "{name!r}", "{total_revenue:>20}", "{0}"):
        with pytest.raises(TemplateError, match="unknown field"):
            check_template(bad)
    with pytest.raises(TemplateError, match="literal brace"):
        check_template("Hello {name")
    with pytest.raises(TemplateError, match="empty"):
        check_template("Hello {}")
    check_template("Literal {{braces}} and {name}")
    with pytest.raises(AutomationError, match=r"email subject: unknown field \{nme\}"):
        validate_rule(
            AutomationRule(
                "r", When.ENTERS, GOLD, Action(ActionKind.PREPARE_EMAIL, subject="{nme}", body="x")
            )
        )


def test_rendering_uses_exact_money_and_never_formats_client_data() -> None:
    values = template_values(
        ClientValues(
            "00017",
            facts(
                name="{ref} & Co",
                total_revenue=1_234_567,
                average_invoice_amount=-5,
                invoice_count=3,
                tier="Gold",
                tags={"b", "A"},
                last_invoice_date=D(2026, 1, 31),
            ),
        ),
        GOLD,
        D(2026, 3, 15),
    )
    rendered = render(
        "{name}|{ref}|{total_revenue}|{average_invoice_amount}|{tier}|{tags}|"
        "{last_invoice_date}|{first_invoice_date}|{segment}|{{x}}",
        values,
    )
    assert rendered == "{ref} & Co|00017|12,345.67|-0.05|Gold|A, b|2026-01-31||Gold|{x}"
    assert parse_template("{name} {tier} {name}").fields == ("name", "tier")
    assert render_header("Hi {name}", {"name": "Evil\r\nBcc: x@y"}) == "Hi Evil Bcc: x@y"


def test_a_rule_is_validated_where_it_is_typed() -> None:
    with pytest.raises(AutomationError, match="needs a name"):
        validate_rule(task_rule("  ", When.ENTERS))
    with pytest.raises(AutomationError, match="needs a title"):
        validate_rule(task_rule("r", When.ENTERS, title=" "))
    with pytest.raises(AutomationError, match="due in 0 to 3650 days"):
        validate_rule(task_rule("r", When.ENTERS, due_in_days=-1))
    with pytest.raises(AutomationError, match="type the tag to add"):
        validate_rule(tag_rule("r", When.ENTERS, " "))
    with pytest.raises(AutomationError, match="'individual' or 'group'"):
        validate_rule(tag_rule("r", When.ENTERS, "x", Target.of_tier("Gold", "family")))
    assert validate_rule(tag_rule(" r ", When.ENTERS, " vip ")).action.tag == "vip"


# --- three runs ---------------------------------------------------------------------------------


def test_entering_leaving_and_staying_fire_exactly_as_defined_across_three_runs(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, ids = office
    opened.save_automation_rule(task_rule("Welcome to Gold", When.ENTERS))
    opened.save_automation_rule(task_rule("Sorry to see you go", When.LEAVES, title="Why {name}?"))
    opened.save_automation_rule(tag_rule("Gold club", When.IS_IN, "gold-club"))
    opened.save_automation_rule(tag_rule("Gold club ends", When.LEAVES, "gold-club", add=False))
    today = dt.date.today()

    # Run 1: A enters Gold (60,000.00 exactly).
    first = opened.run_segmentation(AS_OF)[0]
    assert tasks_by_ref(opened) == [("A", "Call Alpha Ltd")]
    (task,) = opened.tasks()
    assert task.due == today + dt.timedelta(days=7)
    assert task.note == "Revenue 60,000.00"
    assert task.rule_name == "Welcome to Gold"
    assert tags_of(opened, ids["A"]) == {"gold-club"}
    assert opened.rule_tags(ids["A"]) == {"gold-club": "Gold club"}

    # Run 2: B reaches Gold; A stays (no second task for A).
    add_revenue(opened, [("B", D(2025, 7, 1), 4_800_000)])
    second = opened.run_segmentation(AS_OF)[0]
    assert tasks_by_ref(opened) == [("A", "Call Alpha Ltd"), ("B", "Call Beta LLC")]
    assert tags_of(opened, ids["B"]) == {"gold-club"}

    # Run 3: a one-cent refund takes A out of Gold.
    add_revenue(opened, [("A", D(2025, 8, 1), -1)])
    third = opened.run_segmentation(AS_OF)[0]
    assert tasks_by_ref(opened) == [
        ("A", "Call Alpha Ltd"),
        ("A", "Why Alpha Ltd?"),
        ("B", "Call Beta LLC"),
    ]
    assert tags_of(opened, ids["A"]) == set()
    assert opened.rule_tags(ids["A"]) == {}
    assert tags_of(opened, ids["B"]) == {"gold-club"}

    # Run 4 on the same data: nothing fires.
    before = opened.automation_mark()
    opened.run_segmentation(AS_OF)
    assert opened.automation_outcome_since(before).actions == 0
    assert len(opened.tasks()) == 3

    # Rules act in the order of their names; the log keeps every action with its cause.
    log = sorted((e.cause, e.rule_name, e.client_ref) for e in opened.activity())
    assert log == sorted(
        (cause, rule, ref)
        for rule, ref, cause in [
            ("Welcome to Gold", "A", f"run {first.id}"),
            ("Gold club", "A", f"run {first.id}"),
            ("Welcome to Gold", "B", f"run {second.id}"),
            ("Gold club", "B", f"run {second.id}"),
            ("Sorry to see you go", "A", f"run {third.id}"),
            ("Gold club ends", "A", f"run {third.id}"),
        ]
    )


def test_a_client_who_leaves_and_comes_back_fires_again(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, _ids = office
    opened.save_automation_rule(task_rule("Welcome to Gold", When.ENTERS))
    opened.run_segmentation(AS_OF)
    add_revenue(opened, [("A", D(2025, 8, 1), -1)])
    opened.run_segmentation(AS_OF)
    add_revenue(opened, [("A", D(2025, 9, 1), 1)])
    opened.run_segmentation(AS_OF)
    assert tasks_by_ref(opened) == [("A", "Call Alpha Ltd"), ("A", "Call Alpha Ltd")]
    entries = {e.id for e in opened.activity()}
    assert len(entries) == 2


def test_a_new_enters_rule_waits_for_entries_and_an_is_in_rule_acts_once_on_members(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, _ids = office
    opened.run_segmentation(AS_OF)  # A is already in Gold
    opened.save_automation_rule(task_rule("Welcome", When.ENTERS))
    opened.save_automation_rule(task_rule("Members", When.IS_IN, title="Member {name}"))
    opened.run_segmentation(AS_OF)
    opened.run_segmentation(AS_OF)
    assert tasks_by_ref(opened) == [("A", "Member Alpha Ltd")]


def test_segment_rules_fire_on_recompute_and_emails_are_prepared_never_sent(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, ids = office
    big_id = opened.save_segment(BIG, as_of=AS_OF)[0]  # A (60,000.00) is in
    opened.save_automation_rule(email_rule("Big hello", When.ENTERS, Target.of_segment("Big")))
    add_revenue(opened, [("B", D(2025, 7, 1), 2_000_000), ("C", D(2025, 7, 1), 2_500_000)])
    mark = opened.automation_mark()
    opened.run_segmentation(AS_OF)
    outcome = opened.automation_outcome_since(mark)
    assert (outcome.emails_prepared, outcome.without_email) == (1, 1)
    (batch,) = opened.email_batches()
    assert outcome.batches == (batch.id,)
    assert (batch.ready, batch.no_email, batch.sent) == (1, 1, 0)
    messages = opened.email_messages(batch.id)
    assert [(m.client_ref, m.recipient, m.status) for m in messages] == [
        ("B", "beta@example.com", "ready"),
        ("C", None, "no_email"),
    ]
    assert messages[0].subject == "Hello Beta LLC"
    assert messages[0].body == "Dear Beta LLC,\nyour revenue is 32,000.00 (Silver).\n"
    assert messages[1].last_error == "the client has no email address"
    assert "1 client without an email address" in outcome.describe()
    assert "nothing was sent" in outcome.describe()
    assert opened.tasks(segment_id=big_id) == []
    assert ids


def test_no_duplicate_task_for_a_client_who_stays_over_many_recomputes(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, _ids = office
    opened.save_segment(BIG, as_of=AS_OF)
    opened.save_automation_rule(task_rule("Big", When.IS_IN, Target.of_segment("Big")))
    for _ in range(3):
        opened.recompute_segments(AS_OF)
    opened.run_segmentation(AS_OF)
    assert tasks_by_ref(opened) == [("A", "Call Alpha Ltd")]


def test_a_tag_set_by_a_rule_feeds_a_segment_built_on_it_in_the_same_recompute(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, ids = office
    opened.save_segment(BIG, as_of=AS_OF)
    opened.save_segment(
        SegmentDefinition("VIP", (Criterion(RuleField.TAGS, Operator.EQUALS, "vip"),)),
        as_of=AS_OF,
    )
    opened.save_automation_rule(tag_rule("Mark VIP", When.IS_IN, "vip", Target.of_segment("Big")))
    opened.save_automation_rule(task_rule("VIP call", When.ENTERS, Target.of_segment("VIP")))
    opened.recompute_segments(AS_OF)
    assert opened.segment_member_ids(opened.find_segment("VIP").id) == [ids["A"]]
    assert tasks_by_ref(opened) == [("A", "Call Alpha Ltd")]


def test_paused_rules_do_nothing_and_resume_from_the_members_then(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, _ids = office
    rule_id = opened.save_automation_rule(task_rule("Welcome", When.ENTERS, paused=True))[0]
    opened.run_segmentation(AS_OF)  # A enters while the rule is paused
    assert opened.tasks() == []
    opened.pause_automation_rule(rule_id, False)
    opened.run_segmentation(AS_OF)
    assert opened.tasks() == []  # A's entry was during the pause
    add_revenue(opened, [("B", D(2025, 7, 1), 4_800_000)])
    opened.run_segmentation(AS_OF)
    assert tasks_by_ref(opened) == [("B", "Call Beta LLC")]
    (info,) = opened.automation_rules()
    assert info.state == "active"


def test_a_rule_whose_segment_was_deleted_is_shown_broken_never_dropped(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, _ids = office
    segment_id = opened.save_segment(BIG, as_of=AS_OF)[0]
    opened.save_automation_rule(task_rule("Big", When.ENTERS, Target.of_segment("Big")))
    opened.delete_segment(segment_id)
    (info,) = opened.automation_rules()
    assert info.state == "broken"
    assert info.broken == "its segment 'Big' was deleted"
    assert info.rule.target.segment == "Big"
    mark = opened.automation_mark()
    opened.run_segmentation(AS_OF)  # runs fine
    assert opened.automation_outcome_since(mark).actions == 0
    with pytest.raises(StoreError, match="cannot run: its segment 'Big' was deleted"):
        opened.pause_automation_rule(info.id, False)
    # Re-pointed at an existing segment, it runs again.
    opened.save_segment(BIG, as_of=AS_OF)
    opened.save_automation_rule(task_rule("Big", When.ENTERS, Target.of_segment("Big")), info.id)
    assert opened.automation_rules()[0].state == "active"


def test_a_renamed_tier_carries_its_rules_and_a_removed_tier_breaks_them(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, _ids = office
    opened.save_automation_rule(task_rule("Welcome", When.ENTERS))
    individual = opened.strategies()[IND]
    bronze, silver, gold = individual.tiers
    renamed = type(individual)(IND, (bronze, silver, Tier("Platinum", gold.monthly_lower)))
    opened.save_strategy(renamed)
    (info,) = opened.automation_rules()
    assert info.rule.target.tier == "Platinum"
    assert info.broken is None
    opened.save_strategy(type(individual)(IND, (bronze, silver)))
    (info,) = opened.automation_rules()
    assert info.broken == "the individual strategy has no tier 'Platinum' any more"


def test_saving_refuses_unknown_targets_and_taken_names(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, _ids = office
    with pytest.raises(StoreError, match="no segment named 'Nope'"):
        opened.save_automation_rule(task_rule("r", When.ENTERS, Target.of_segment("Nope")))
    with pytest.raises(StoreError, match="no tier named 'Diamond'"):
        opened.save_automation_rule(task_rule("r", When.ENTERS, Target.of_tier("Diamond")))
    opened.save_automation_rule(task_rule("r", When.ENTERS))
    with pytest.raises(StoreError, match="named 'r' already exists"):
        opened.save_automation_rule(task_rule("r", When.LEAVES))
    assert len(opened.automation_rules()) == 1


def test_a_failing_action_leaves_the_previous_run_and_nothing_half_applied(
    office: tuple[Office, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened, _ids = office
    opened.save_automation_rule(task_rule("Welcome", When.ENTERS))
    opened.save_automation_rule(tag_rule("Gold club", When.IS_IN, "gold-club"))
    real_act = automation_store._act
    calls = []

    def failing(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise StoreError("disk full")
        real_act(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(automation_store, "_act", failing)
    with pytest.raises(StoreError, match="disk full"):
        opened.run_segmentation(AS_OF)
    assert opened.current_run() is None
    assert opened.tasks() == []
    assert opened.activity() == []
    assert table_rows(opened, "automation_member") == []
    monkeypatch.setattr(automation_store, "_act", real_act)
    opened.run_segmentation(AS_OF)
    assert tasks_by_ref(opened) == [("A", "Call Alpha Ltd")]


def test_group_tier_rules_watch_the_clients_of_groups_in_the_tier(office_url: str) -> None:
    opened, ids = make_office(
        office_url,
        [client("A", groups=["Fam"]), client("B", groups=["Fam"]), client("C")],
        [("A", D(2025, 3, 1), 3_000_000)],  # the group: 30,000.00 -> B Group (from 30,000.00)
    )
    try:
        opened.save_automation_rule(
            tag_rule("Family B", When.IS_IN, "fam-b", Target.of_tier("B Group", "group"))
        )
        opened.run_segmentation(AS_OF)
        assert tags_of(opened, ids["A"]) == {"fam-b"}
        assert tags_of(opened, ids["B"]) == {"fam-b"}
        assert tags_of(opened, ids["C"]) == set()
    finally:
        opened.close()


# --- tasks and email records ------------------------------------------------------------------


def test_tasks_done_snooze_reassign_counts_and_filters(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, ids = office
    opened.save_automation_rule(task_rule("Welcome", When.ENTERS))
    add_revenue(opened, [("B", D(2025, 7, 1), 4_800_000)])
    opened.run_segmentation(AS_OF)
    first, second = opened.tasks()
    today = dt.date.today()
    assert opened.task_counts(today + dt.timedelta(days=7)) == automation_store.TaskCounts(2, 2, 0)
    opened.snooze_task(first.id, today - dt.timedelta(days=1))
    opened.reassign_task(second.id, "  Dana ")
    assert opened.task_counts(today) == automation_store.TaskCounts(2, 0, 1)
    listed = opened.tasks()
    assert [t.id for t in listed] == [first.id, second.id]  # by due date
    assert listed[1].assignee == "Dana"
    assert [t.client_ref for t in opened.tasks(client_id=ids["B"])] == ["B"]
    opened.complete_task(first.id)
    assert [t.id for t in opened.tasks()] == [second.id]
    done = [t for t in opened.tasks(include_done=True) if t.done]
    assert [t.id for t in done] == [first.id] and done[0].done_at is not None
    with pytest.raises(StoreError, match="no longer exists"):
        opened.complete_task(999_999)


def test_a_failed_send_is_recorded_and_retryable_and_a_sent_one_never_again(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, _ids = office
    opened.save_automation_rule(email_rule("Gold hello", When.ENTERS, GOLD))
    opened.run_segmentation(AS_OF)
    (batch,) = opened.email_batches()
    (message,) = opened.email_messages(batch.id)
    opened.record_email_send(message.id, False, "connection refused")
    (message,) = opened.email_messages(batch.id)
    assert (message.status, message.attempts, message.last_error) == (
        "failed",
        1,
        "connection refused",
    )
    assert message.sendable and message.sent_at is None
    opened.record_email_send(message.id, True, "250 OK")
    (message,) = opened.email_messages(batch.id)
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)
    with pytest.raises(StoreError, match="cannot be sent again"):
        opened.record_email_send(message.id, True, "250 OK")
    assert [(a.ok, a.detail) for a in opened.email_send_log(batch.id)] == [
        (False, "connection refused"),
        (True, "250 OK"),
    ]


# --- definitions file -------------------------------------------------------------------------

RULES_TOML = {
    "automations": [
        {
            "name": "Welcome",
            "when": "enters",
            "strategy": "individual",
            "tier": "Gold",
            "action": "create_task",
            "title": "Call {name}",
            "due_in_days": 3,
        },
        {
            "name": "Hello",
            "when": "is_in",
            "segment": "High-Value Clients",
            "action": "prepare_email",
            "subject": "Hi {name}",
            "body": "Line one\nLine two",
            "paused": True,
        },
        {
            "name": "Tag",
            "when": "leaves",
            "segment": "Active Clients",
            "action": "remove_tag",
            "tag": "x",
        },
    ]
}


def test_rules_move_with_the_definitions_file(
    office: tuple[Office, dict[str, int]], tmp_path: Path
) -> None:
    opened, _ids = office
    opened.replace_definitions(parse_definitions(RULES_TOML))
    exported = opened.export_definitions()
    path = tmp_path / "defs.toml"
    write_definitions(path, exported)
    text_written = path.read_text(encoding="utf-8")
    assert "[[automations]]" in text_written
    back = read_definitions(path)
    assert list(back.automations) == list(exported.automations)
    assert {r.rule.name: r.rule.paused for r in opened.automation_rules()} == {
        "Hello": True,
        "Tag": False,
        "Welcome": False,
    }
    welcome = next(r for r in back.automations if r.name == "Welcome")
    assert welcome.action.due_in_days == 3 and welcome.target == GOLD


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"action": "create_task", "title": "{nmae}"}, r"unknown field \{nmae\}"),
        ({"action": "fly"}, "action must be one of"),
        ({"action": "add_tag", "tag": "x", "title": "t"}, "unknown key 'title'"),
        ({"action": "add_tag", "tag": "x", "when": "sometimes"}, "enters, leaves or is_in"),
        ({"action": "add_tag", "tag": "x", "tier": "Gold"}, "not both"),
    ],
)
def test_a_bad_rule_in_the_file_is_refused_with_its_reason(
    entry: dict[str, object], message: str
) -> None:
    rule = {"name": "R", "when": "enters", "segment": "Big", **entry}
    with pytest.raises(DefinitionsFileError, match=message):
        parse_definitions({"automations": [rule]})


def test_an_import_naming_a_missing_segment_changes_nothing(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, _ids = office
    bad = parse_definitions(
        {
            "settings": {"max_months": 24},
            "automations": [
                {"name": "R", "when": "enters", "segment": "Nope", "action": "add_tag", "tag": "x"}
            ],
        }
    )
    with pytest.raises(StoreError, match="no segment named 'Nope'"):
        opened.replace_definitions(bad)
    assert opened.settings().segmentation.max_months == 12
    assert opened.automation_rules() == []
    # A segment defined in the same file is fine.
    good = Definitions(
        segments=[BIG],
        automations=[tag_rule("R", When.ENTERS, "x", Target.of_segment("Big"))],
    )
    opened.replace_definitions(good)
    assert [r.rule.name for r in opened.automation_rules()] == ["R"]
    # A new enters rule on a new segment does not fire for its first members.
    assert opened.activity() == []


# --- the command line -------------------------------------------------------------------------


def test_run_applies_rules_headless_and_prints_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "office.db"
    opened, _ids = make_office(db, CLIENTS, REVENUE)
    opened.save_automation_rule(task_rule("Welcome", When.ENTERS))
    opened.save_automation_rule(email_rule("Gold hello", When.IS_IN, GOLD))
    opened.close()
    assert cli.main(["run", "--db", str(db), "--as-of", AS_OF.isoformat()]) == 0
    out = capsys.readouterr().out
    assert (
        "Automation: 1 task created, 1 email prepared for review (batch 1; nothing was sent)" in out
    )
    assert cli.main(["tasks", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "A  Alpha Ltd: Call Alpha Ltd" in out
    assert "1 open task (0 due today, 0 overdue)." in out
    assert cli.main(["tasks", "--db", str(db), "--client", "nobody"]) == 1
    assert "no client with the ref 'nobody'" in capsys.readouterr().err
    out_file = tmp_path / "activity.csv"
    assert cli.main(["activity", "--db", str(db), "--out", str(out_file)]) == 0
    with out_file.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["rule"], r["client_ref"], r["action"]) for r in rows] == [
        ("Gold hello", "A", "prepare_email"),
        ("Welcome", "A", "create_task"),
    ]
    reopened = Office.open(db)
    try:
        (batch,) = reopened.email_batches()
        assert (batch.ready, batch.sent) == (1, 0)  # prepared only, never sent
    finally:
        reopened.close()


def test_the_activity_export_is_formula_safe(tmp_path: Path) -> None:
    opened, _ids = make_office(
        tmp_path,
        [client("=1+1", '=HYPERLINK("x")', email="a@b.example")],
        [("=1+1", D(2025, 6, 1), 6_000_000)],
    )
    try:
        opened.save_automation_rule(task_rule("Welcome", When.ENTERS))
        opened.run_segmentation(AS_OF)
        from seg_desktop.io.activity_export import write_activity_csv

        out = tmp_path / "log.csv"
        assert write_activity_csv(out, opened.activity()) == 1
        with out.open(encoding="utf-8-sig", newline="") as handle:
            (row,) = list(csv.DictReader(handle))
        assert row["client_ref"] == "'=1+1"
        assert row["client_name"].startswith("'=HYPERLINK")
    finally:
        opened.close()


# --- the schema upgrade -----------------------------------------------------------------------


def test_a_version_2_file_upgrades_to_3_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old, _ids = make_office(tmp_path, CLIENTS, REVENUE, name="old.db")
    run = old.run_segmentation(AS_OF)[0]
    old.close()
    connection = sqlite3.connect(path)
    for name in reversed(AUTOMATION_TABLES):
        connection.execute(f"DROP TABLE {name}")
    connection.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()
    assert not set(AUTOMATION_TABLES) & db_table_names(path)
    upgraded = Office.open(path)
    try:
        assert SCHEMA_VERSION == 3
        assert sqlite_scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == "3"
        assert set(AUTOMATION_TABLES) <= db_table_names(path)
        assert upgraded.current_run() == run
        upgraded.save_automation_rule(task_rule("Welcome", When.IS_IN))
        upgraded.run_segmentation(AS_OF)
        assert tasks_by_ref(upgraded) == [("A", "Call Alpha Ltd")]
    finally:
        upgraded.close()


def test_removing_a_tag_by_hand_drops_its_rule_mark(office: tuple[Office, dict[str, int]]) -> None:
    opened, ids = office
    opened.save_automation_rule(tag_rule("Gold club", When.IS_IN, "gold-club"))
    opened.run_segmentation(AS_OF)
    assert opened.rule_tags(ids["A"]) == {"gold-club": "Gold club"}
    with opened.database.write() as connection:
        connection.execute(text("DELETE FROM client_tag WHERE tag = 'gold-club'"))
    assert opened.rule_tags(ids["A"]) == {}
    add_clients(opened, [client("Z")])  # unrelated writes keep working
