"""Automation rules, their evaluation, the activity log, follow-up tasks and email batches.

Plain functions over a Connection, inside the caller's transaction. Rules are
evaluated by :func:`apply_rules`, which the store calls in the same write
transaction as the change of membership itself: after a run is saved (tier
rules, :func:`seg_desktop.store.runs.save_run`) and after segments are
recomputed (segment rules, :func:`seg_desktop.store.segments.recompute_all`).
So a crash never leaves a membership change without its actions, or actions
without the change.

Each rule keeps the members it saw the last time (``automation_member``); an
evaluation compares them with the members now (:func:`core.automation.evaluate`)
and records every action against the entry's id, which the activity log holds
unique per rule: an action is never taken twice for one entry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)

from seg_desktop.core.automation import (
    Action,
    ActionKind,
    AutomationError,
    AutomationRule,
    ClientValues,
    Target,
    TargetKind,
    When,
    baseline,
    evaluate,
    is_plausible_address,
    parse_template,
    render,
    render_header,
    template_values,
    validate_rule,
)
from seg_desktop.core.rules import ClientFacts
from seg_desktop.core.text import storable_text
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store import data, definitions
from seg_desktop.store.database import insert_returning_id
from seg_desktop.store.dialect import binary_order
from seg_desktop.store.errors import StoreError
from seg_desktop.store.records import ActivityEntry as ActivityEntry
from seg_desktop.store.records import ActivityMark as ActivityMark
from seg_desktop.store.records import AutomationOutcome
from seg_desktop.store.records import BatchInfo as BatchInfo
from seg_desktop.store.records import EmailMessage as EmailMessage
from seg_desktop.store.records import FollowUp as FollowUp
from seg_desktop.store.records import RuleInfo as RuleInfo
from seg_desktop.store.records import SendAttempt as SendAttempt
from seg_desktop.store.records import TaskCounts as TaskCounts
from seg_desktop.store.schema import (
    AutomationActivity,
    AutomationMember,
    AutomationRuleRow,
    Client,
    ClientTag,
    EmailBatch,
    EmailMessageRow,
    EmailSendLog,
    FollowUpTask,
    GroupMember,
    RuleTag,
    Run,
    RunAssignment,
    Segment,
    SegmentMember,
    Setting,
    table_of,
)

rule_t = table_of(AutomationRuleRow)
state_t = table_of(AutomationMember)
activity_t = table_of(AutomationActivity)
task_t = table_of(FollowUpTask)
batch_t = table_of(EmailBatch)
message_t = table_of(EmailMessageRow)
send_log_t = table_of(EmailSendLog)
rule_tag_t = table_of(RuleTag)
client_t = table_of(Client)
tag_t = table_of(ClientTag)
segment_t = table_of(Segment)
segment_member_t = table_of(SegmentMember)
assignment_t = table_of(RunAssignment)
group_member_t = table_of(GroupMember)
run_t = table_of(Run)
setting_t = table_of(Setting)

_CHUNK = 500


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = sorted(ids)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


# --- rules ------------------------------------------------------------------------------------


def _params(action: Action) -> str:
    return json.dumps(
        {
            "title": action.title,
            "note": action.note,
            "due_in_days": action.due_in_days,
            "assignee": action.assignee,
            "tag": action.tag,
            "subject": action.subject,
            "body": action.body,
        },
        sort_keys=True,
    )


def _action(kind: str, params: str) -> Action:
    values = json.loads(params)
    return Action(
        ActionKind(kind),
        title=str(values.get("title", "")),
        note=str(values.get("note", "")),
        due_in_days=int(values.get("due_in_days", 7)),
        assignee=str(values.get("assignee", "")),
        tag=str(values.get("tag", "")),
        subject=str(values.get("subject", "")),
        body=str(values.get("body", "")),
    )


def list_rules(connection: Connection) -> list[RuleInfo]:
    """Every automation rule by name, broken ones included (never dropped)."""
    tier_names = {
        kind.value: set(strategy.names)
        for kind, strategy in definitions.get_strategies(connection).items()
    }
    watched: dict[int, int] = dict(
        connection.execute(
            select(state_t.c.rule_id, func.count()).group_by(state_t.c.rule_id)
        ).all()
    )
    query = (
        select(rule_t, segment_t.c.name.label("current_segment_name"))
        .select_from(rule_t.outerjoin(segment_t, segment_t.c.id == rule_t.c.segment_id))
        .order_by(binary_order(rule_t.c.name))
    )
    result = []
    for row in connection.execute(query).mappings():
        broken = None
        if row["target_kind"] == TargetKind.SEGMENT.value:
            segment_name = row["current_segment_name"] or row["segment_name"] or ""
            target = Target.of_segment(segment_name)
            if row["segment_id"] is None:
                broken = f"its segment '{segment_name}' was deleted"
        else:
            strategy = row["strategy_kind"] or StrategyKind.INDIVIDUAL.value
            target = Target.of_tier(row["tier_name"] or "", strategy)
            if target.tier not in tier_names.get(strategy, set()):
                broken = f"the {strategy} strategy has no tier '{target.tier}' any more"
        rule = AutomationRule(
            name=row["name"],
            when=When(row["trigger"]),
            target=target,
            action=_action(row["action"], row["params"]),
            paused=bool(row["paused"]),
        )
        result.append(
            RuleInfo(
                id=int(row["id"]),
                rule=rule,
                broken=broken,
                segment_id=row["segment_id"],
                watched=int(watched.get(row["id"], 0)),
                updated_at=row["updated_at"],
            )
        )
    return result


def get_rule(connection: Connection, rule_id: int) -> RuleInfo | None:
    """A rule by id."""
    return next((info for info in list_rules(connection) if info.id == rule_id), None)


def _resolve_target(connection: Connection, target: Target) -> int | None:
    """The segment id of a segment target (StoreError if none), or check a tier target."""
    if target.kind is TargetKind.SEGMENT:
        found = connection.execute(
            select(segment_t.c.id).where(segment_t.c.name == target.segment)
        ).scalar()
        if found is None:
            names = connection.execute(
                select(segment_t.c.name).order_by(binary_order(segment_t.c.name))
            ).scalars()
            raise StoreError(
                f"there is no segment named '{target.segment}' "
                f"(there are: {', '.join(names) or 'none'})"
            )
        return int(found)
    strategies = definitions.get_strategies(connection)
    strategy = strategies[StrategyKind(target.strategy)]
    if target.tier not in strategy.names:
        raise StoreError(
            f"the {target.strategy} strategy has no tier named '{target.tier}' "
            f"(its tiers are: {', '.join(strategy.names) or 'none'})"
        )
    return None


def _current_run_id(connection: Connection) -> int | None:
    value = connection.execute(select(func.max(run_t.c.id))).scalar()
    return int(value) if value is not None else None


def current_members(
    connection: Connection, target: Target, segment_id: int | None, run_id: int | None
) -> frozenset[int]:
    """The clients in a segment (its stored membership) or a tier (in the current run).

    A client is in a group tier when any of its groups is in it.
    """
    if target.kind is TargetKind.SEGMENT:
        if segment_id is None:
            return frozenset()
        query = select(segment_member_t.c.client_id).where(
            segment_member_t.c.segment_id == segment_id
        )
    elif run_id is None:
        return frozenset()
    elif target.strategy == StrategyKind.GROUP.value:
        query = (
            select(group_member_t.c.client_id)
            .distinct()
            .select_from(
                group_member_t.join(
                    assignment_t,
                    and_(
                        assignment_t.c.run_id == run_id,
                        assignment_t.c.kind == StrategyKind.GROUP.value,
                        assignment_t.c.subject_id == group_member_t.c.group_id,
                    ),
                )
            )
            .where(assignment_t.c.tier_name == target.tier)
        )
    else:
        query = select(assignment_t.c.subject_id).where(
            assignment_t.c.run_id == run_id,
            assignment_t.c.kind == StrategyKind.INDIVIDUAL.value,
            assignment_t.c.tier_name == target.tier,
        )
    return frozenset(int(client_id) for client_id in connection.execute(query).scalars())


def _reset_state(connection: Connection, rule_id: int, members: frozenset[int]) -> None:
    connection.execute(delete(state_t).where(state_t.c.rule_id == rule_id))
    _add_state(connection, rule_id, members)


def _add_state(connection: Connection, rule_id: int, members: Iterable[int]) -> None:
    for chunk in _chunks(members):
        connection.execute(
            insert(state_t), [{"rule_id": rule_id, "client_id": client_id} for client_id in chunk]
        )


def save_rule(
    connection: Connection,
    rule: AutomationRule,
    rule_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Create (``rule_id`` None) or replace a rule; returns its id.

    Refuses an invalid rule, a taken name, or a segment or tier that does not
    exist, with a message for the user. A new rule, or one whose trigger or
    target changed, or one resumed from pause, starts from the membership now
    (:func:`core.automation.baseline`): ``enters`` and ``leaves`` act on changes
    from here on, ``is in`` acts on every member at its first evaluation.
    """
    try:
        rule = validate_rule(rule)
    except AutomationError as error:
        raise StoreError(str(error)) from None
    at = now or _now()
    clash = connection.execute(select(rule_t.c.id).where(rule_t.c.name == rule.name)).scalar()
    if clash is not None and clash != rule_id:
        raise StoreError(f"an automation rule named '{rule.name}' already exists")
    segment_id = _resolve_target(connection, rule.target)
    target = rule.target
    values = {
        "name": storable_text(rule.name),
        "trigger": rule.when.value,
        "target_kind": target.kind.value,
        "segment_id": segment_id,
        "segment_name": target.segment if target.kind is TargetKind.SEGMENT else None,
        "strategy_kind": target.strategy if target.kind is TargetKind.TIER else None,
        "tier_name": target.tier if target.kind is TargetKind.TIER else None,
        "action": rule.action.kind.value,
        "params": _params(rule.action),
        "paused": rule.paused,
        "updated_at": at,
    }
    members = current_members(connection, target, segment_id, _current_run_id(connection))
    if rule_id is None:
        rule_id = insert_returning_id(connection, insert(rule_t).values(**values, created_at=at))
        _reset_state(connection, rule_id, baseline(rule.when, members))
        return rule_id
    old = connection.execute(select(rule_t).where(rule_t.c.id == rule_id)).mappings().first()
    if old is None:
        raise StoreError("that automation rule no longer exists")
    connection.execute(update(rule_t).where(rule_t.c.id == rule_id).values(**values))
    moved = (
        old["trigger"] != values["trigger"]
        or old["target_kind"] != values["target_kind"]
        or old["segment_id"] != segment_id
        or old["strategy_kind"] != values["strategy_kind"]
        or old["tier_name"] != values["tier_name"]
    )
    resumed = bool(old["paused"]) and not rule.paused
    if moved or (resumed and rule.when is not When.IS_IN):
        _reset_state(connection, rule_id, baseline(rule.when, members))
    return rule_id


def set_paused(connection: Connection, rule_id: int, paused: bool) -> None:
    """Pause or resume a rule (resuming an enters/leaves rule starts it from the members now)."""
    info = get_rule(connection, rule_id)
    if info is None:
        raise StoreError("that automation rule no longer exists")
    if info.broken is not None and not paused:
        raise StoreError(f"the rule '{info.rule.name}' cannot run: {info.broken}")
    rule = info.rule
    save_rule(
        connection,
        AutomationRule(rule.name, rule.when, rule.target, rule.action, paused),
        rule_id,
    )


def delete_rule(connection: Connection, rule_id: int) -> None:
    """Delete a rule; its activity log, tasks and batches stay (with the rule's name)."""
    connection.execute(delete(rule_t).where(rule_t.c.id == rule_id))


def replace_rules(connection: Connection, rules: Sequence[AutomationRule]) -> None:
    """Add or replace rules by name (a definitions file import); others are kept."""
    existing = dict(connection.execute(select(rule_t.c.name, rule_t.c.id)).all())
    for rule in rules:
        save_rule(connection, rule, existing.get(rule.name.strip()))


# --- evaluation -------------------------------------------------------------------------------


@dataclass
class _Tally:
    tasks_created: int = 0
    tags_added: int = 0
    tags_removed: int = 0
    emails_prepared: int = 0
    without_email: int = 0
    unchanged: int = 0
    batches: list[int] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    def outcome(self) -> AutomationOutcome:
        return AutomationOutcome(
            self.tasks_created,
            self.tags_added,
            self.tags_removed,
            self.emails_prepared,
            self.without_email,
            self.unchanged,
            tuple(self.batches),
            tuple(self.broken),
        )


def apply_rules(
    connection: Connection,
    cause: str,
    targets: Collection[TargetKind] = (TargetKind.SEGMENT, TargetKind.TIER),
    now: dt.datetime | None = None,
) -> AutomationOutcome:
    """Evaluate every active rule watching one of ``targets`` and take its actions.

    Runs inside the caller's transaction (the run or the recompute that changed
    the membership). Paused rules are skipped and keep their state; broken ones
    are skipped and named in the outcome.
    """
    at = now or _now()
    tally = _Tally()
    rules = [info for info in list_rules(connection) if info.rule.target.kind in targets]
    if not rules:
        return tally.outcome()
    run_id = _current_run_id(connection)
    for info in rules:
        if info.rule.paused:
            continue
        if info.broken is not None:
            tally.broken.append(info.rule.name)
            continue
        _apply_rule(connection, info, run_id, cause, at, tally)
    return tally.outcome()


def _apply_rule(
    connection: Connection,
    info: RuleInfo,
    run_id: int | None,
    cause: str,
    at: dt.datetime,
    tally: _Tally,
) -> None:
    rule = info.rule
    current = current_members(connection, rule.target, info.segment_id, run_id)
    seen = {
        int(client_id): int(entry_id)
        for client_id, entry_id in connection.execute(
            select(state_t.c.client_id, state_t.c.id).where(state_t.c.rule_id == info.id)
        )
    }
    evaluation = evaluate(rule.when, frozenset(seen), current)
    for chunk in _chunks(evaluation.left):
        connection.execute(
            delete(state_t).where(state_t.c.rule_id == info.id, state_t.c.client_id.in_(chunk))
        )
    _add_state(connection, info.id, evaluation.entered)
    if not evaluation.fired:
        return
    if rule.when is When.LEAVES:
        entries = {client_id: seen[client_id] for client_id in evaluation.fired}
    else:
        entries = {}
        for chunk in _chunks(evaluation.fired):
            entries.update(
                (int(c), int(e))
                for c, e in connection.execute(
                    select(state_t.c.client_id, state_t.c.id).where(
                        state_t.c.rule_id == info.id, state_t.c.client_id.in_(chunk)
                    )
                )
            )
    # The entry ids are new, so this finds nothing unless the state was tampered with;
    # it is what makes "never twice for one entry" hold whatever happened before.
    done: set[int] = set()
    for chunk in _chunks(entries.values()):
        done.update(
            int(e)
            for e in connection.execute(
                select(activity_t.c.entry_id).where(
                    activity_t.c.rule_id == info.id, activity_t.c.entry_id.in_(chunk)
                )
            ).scalars()
        )
    todo = {c: e for c, e in entries.items() if e not in done}
    if todo:
        _act(connection, info, todo, run_id, cause, at, tally)


def _client_values(
    connection: Connection, client_ids: Collection[int], run_id: int | None
) -> dict[int, ClientValues]:
    refs: dict[int, str] = {}
    facts: dict[int, ClientFacts] = {}
    for chunk in _chunks(client_ids):
        refs.update(
            (int(i), str(r))
            for i, r in connection.execute(
                select(client_t.c.id, client_t.c.ref).where(client_t.c.id.in_(chunk))
            )
        )
        facts.update((f.client_id, f) for f in data.client_facts(connection, run_id, chunk))
    return {i: ClientValues(refs[i], facts[i]) for i in facts if i in refs}


def _act(
    connection: Connection,
    info: RuleInfo,
    entries: dict[int, int],
    run_id: int | None,
    cause: str,
    at: dt.datetime,
    tally: _Tally,
) -> None:
    rule, action = info.rule, info.rule.action
    clients = _client_values(connection, entries, run_id)
    today = at.date()
    activity: list[dict[str, object]] = []

    def log(client_id: int, result: str, detail: str) -> None:
        client = clients[client_id]
        activity.append(
            {
                "at": at,
                "rule_id": info.id,
                "rule_name": rule.name,
                "client_id": client_id,
                "client_ref": client.ref,
                "client_name": client.facts.name or "",
                "trigger": rule.when.value,
                "subject": rule.target.label,
                "action": action.kind.value,
                "result": result,
                "detail": detail,
                "entry_id": entries[client_id],
                "cause": cause,
            }
        )

    fired = sorted(clients, key=lambda i: clients[i].ref.encode("utf-8"))
    if action.kind is ActionKind.CREATE_TASK:
        title, note = parse_template(action.title), parse_template(action.note)
        due = today + dt.timedelta(days=action.due_in_days)
        rows = []
        for client_id in fired:
            values = template_values(clients[client_id], rule.target, today)
            text = storable_text(render_header(title, values))
            rows.append(
                {
                    "client_id": client_id,
                    "title": text,
                    "note": storable_text(render(note, values)),
                    "due": due,
                    "assignee": action.assignee,
                    "done": False,
                    "done_at": None,
                    "created_at": at,
                    "rule_id": info.id,
                    "rule_name": rule.name,
                }
            )
            log(client_id, "done", f"task '{text}' due {due.isoformat()}")
        for start in range(0, len(rows), _CHUNK):
            connection.execute(insert(task_t), rows[start : start + _CHUNK])
        tally.tasks_created += len(rows)
    elif action.kind in (ActionKind.ADD_TAG, ActionKind.REMOVE_TAG):
        tag = storable_text(action.tag)
        having: set[int] = set()
        for chunk in _chunks(fired):
            having.update(
                int(c)
                for c in connection.execute(
                    select(tag_t.c.client_id).where(
                        tag_t.c.tag == tag, tag_t.c.client_id.in_(chunk)
                    )
                ).scalars()
            )
        if action.kind is ActionKind.ADD_TAG:
            adding = [c for c in fired if c not in having]
            for chunk in _chunks(adding):
                connection.execute(insert(tag_t), [{"client_id": c, "tag": tag} for c in chunk])
                connection.execute(
                    insert(rule_tag_t),
                    [
                        {
                            "client_id": c,
                            "tag": tag,
                            "rule_id": info.id,
                            "rule_name": rule.name,
                            "set_at": at,
                        }
                        for c in chunk
                    ],
                )
            for client_id in fired:
                if client_id in having:
                    log(client_id, "nothing", f"tag '{tag}' was already there")
                else:
                    log(client_id, "done", f"tag '{tag}' added")
            tally.tags_added += len(adding)
            tally.unchanged += len(fired) - len(adding)
        else:
            removing = [c for c in fired if c in having]
            for chunk in _chunks(removing):
                # The rule_tag mark goes with the tag (ON DELETE CASCADE).
                connection.execute(
                    delete(tag_t).where(tag_t.c.tag == tag, tag_t.c.client_id.in_(chunk))
                )
            for client_id in fired:
                if client_id in having:
                    log(client_id, "done", f"tag '{tag}' removed")
                else:
                    log(client_id, "nothing", f"tag '{tag}' was not there")
            tally.tags_removed += len(removing)
            tally.unchanged += len(fired) - len(removing)
    else:
        subject, body = parse_template(action.subject), parse_template(action.body)
        batch_id = insert_returning_id(
            connection,
            insert(batch_t).values(
                created_at=at,
                rule_id=info.id,
                rule_name=rule.name,
                subject_template=action.subject,
                body_template=action.body,
                cause=cause,
            ),
        )
        rows = []
        for client_id in fired:
            client = clients[client_id]
            values = template_values(client, rule.target, today)
            address = (client.facts.email or "").strip()
            usable = is_plausible_address(address)
            rows.append(
                {
                    "batch_id": batch_id,
                    "client_id": client_id,
                    "client_ref": client.ref,
                    "client_name": client.facts.name or "",
                    "recipient": address or None,
                    "subject": storable_text(render_header(subject, values)),
                    "body": storable_text(render(body, values)),
                    "status": "ready" if usable else "no_email",
                    "attempts": 0,
                    "last_error": None
                    if usable
                    else (
                        "the client has no email address"
                        if not address
                        else f"'{address}' is not an email address"
                    ),
                    "sent_at": None,
                }
            )
            if usable:
                log(client_id, "done", f"email to {address} prepared in batch {batch_id}")
                tally.emails_prepared += 1
            else:
                why = "no email address" if not address else f"unusable address '{address}'"
                log(client_id, "no_email", f"{why}: listed in batch {batch_id}, not sendable")
                tally.without_email += 1
        for start in range(0, len(rows), _CHUNK):
            connection.execute(insert(message_t), rows[start : start + _CHUNK])
        tally.batches.append(batch_id)
    for start in range(0, len(activity), _CHUNK):
        connection.execute(insert(activity_t), activity[start : start + _CHUNK])


# --- the activity log -------------------------------------------------------------------------


def activity_mark(connection: Connection) -> ActivityMark:
    """Where the log stands now: pass it to :func:`outcome_since` after a run."""
    return ActivityMark(
        int(connection.execute(select(func.max(activity_t.c.id))).scalar() or 0),
        int(connection.execute(select(func.max(batch_t.c.id))).scalar() or 0),
    )


def list_activity(
    connection: Connection,
    since: int | None = None,
    client_id: int | None = None,
    limit: int | None = None,
) -> list[ActivityEntry]:
    """The activity log, newest first: after ``since``, one client's, the last ``limit``."""
    query = select(activity_t).order_by(activity_t.c.id.desc())
    if since is not None:
        query = query.where(activity_t.c.id > since)
    if client_id is not None:
        query = query.where(activity_t.c.client_id == client_id)
    if limit is not None:
        query = query.limit(limit)
    return [
        ActivityEntry(
            id=int(row["id"]),
            at=row["at"],
            rule_name=row["rule_name"],
            client_id=row["client_id"],
            client_ref=row["client_ref"],
            client_name=row["client_name"],
            when=When(row["trigger"]),
            subject=row["subject"],
            action=ActionKind(row["action"]),
            result=row["result"],
            detail=row["detail"],
            cause=row["cause"],
        )
        for row in connection.execute(query).mappings()
    ]


def outcome_since(connection: Connection, mark: ActivityMark) -> AutomationOutcome:
    """What the rules did after ``mark`` (e.g. during one `run`: its run and its recompute)."""
    tally = _Tally()
    rows = connection.execute(
        select(activity_t.c.action, activity_t.c.result, func.count())
        .where(activity_t.c.id > mark.activity_id)
        .group_by(activity_t.c.action, activity_t.c.result)
    )
    for action, result, number in rows:
        number = int(number)
        if result == "nothing":
            tally.unchanged += number
        elif result == "no_email":
            tally.without_email += number
        elif action == ActionKind.CREATE_TASK.value:
            tally.tasks_created += number
        elif action == ActionKind.ADD_TAG.value:
            tally.tags_added += number
        elif action == ActionKind.REMOVE_TAG.value:
            tally.tags_removed += number
        else:
            tally.emails_prepared += number
    tally.batches.extend(
        int(b)
        for b in connection.execute(
            select(batch_t.c.id).where(batch_t.c.id > mark.batch_id).order_by(batch_t.c.id)
        ).scalars()
    )
    return tally.outcome()


def rule_tags(connection: Connection, client_id: int) -> dict[str, str]:
    """A client's tags that a rule set: tag -> the rule's name."""
    return dict(
        connection.execute(
            select(rule_tag_t.c.tag, rule_tag_t.c.rule_name).where(
                rule_tag_t.c.client_id == client_id
            )
        ).all()
    )


# --- follow-up tasks --------------------------------------------------------------------------


def list_tasks(
    connection: Connection,
    include_done: bool = False,
    segment_id: int | None = None,
    client_id: int | None = None,
) -> list[FollowUp]:
    """Tasks by due date (open ones only unless ``include_done``).

    ``segment_id`` keeps the tasks of the segment's current members.
    """
    query = select(
        task_t.c.id,
        task_t.c.client_id,
        client_t.c.ref,
        client_t.c.name,
        task_t.c.title,
        task_t.c.note,
        task_t.c.due,
        task_t.c.assignee,
        task_t.c.done,
        task_t.c.done_at,
        task_t.c.created_at,
        task_t.c.rule_name,
    ).select_from(task_t.join(client_t, client_t.c.id == task_t.c.client_id))
    if not include_done:
        query = query.where(task_t.c.done.is_(False))
    if client_id is not None:
        query = query.where(task_t.c.client_id == client_id)
    if segment_id is not None:
        query = query.where(
            task_t.c.client_id.in_(
                select(segment_member_t.c.client_id).where(
                    segment_member_t.c.segment_id == segment_id
                )
            )
        )
    query = query.order_by(task_t.c.done, task_t.c.due, task_t.c.id)
    return [
        FollowUp(
            id=int(row[0]),
            client_id=int(row[1]),
            client_ref=str(row[2]),
            client_name=str(row[3]),
            title=str(row[4]),
            note=str(row[5] or ""),
            due=_as_date(row[6]),
            assignee=str(row[7] or ""),
            done=bool(row[8]),
            done_at=row[9],
            created_at=row[10],
            rule_name=str(row[11] or ""),
        )
        for row in connection.execute(query)
    ]


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def task_counts(connection: Connection, today: dt.date) -> TaskCounts:
    """How many tasks are open, due today and overdue."""
    open_tasks = task_t.c.done.is_(False)

    def count(*conditions: ColumnElement[bool]) -> int:
        query = select(func.count()).select_from(task_t).where(open_tasks, *conditions)
        return int(connection.execute(query).scalar() or 0)

    return TaskCounts(count(), count(task_t.c.due == today), count(task_t.c.due < today))


def _update_task(connection: Connection, task_id: int, **values: object) -> None:
    found = connection.execute(update(task_t).where(task_t.c.id == task_id).values(**values))
    if not found.rowcount:
        raise StoreError("that task no longer exists")


def complete_task(
    connection: Connection, task_id: int, done: bool = True, now: dt.datetime | None = None
) -> None:
    """Mark a task done (or open again)."""
    _update_task(connection, task_id, done=done, done_at=(now or _now()) if done else None)


def snooze_task(connection: Connection, task_id: int, until: dt.date) -> None:
    """Move a task's due date."""
    _update_task(connection, task_id, due=until)


def reassign_task(connection: Connection, task_id: int, assignee: str) -> None:
    """Give a task to someone else ("" = nobody)."""
    _update_task(connection, task_id, assignee=storable_text(assignee.strip()))


def add_task(
    connection: Connection,
    client_id: int,
    title: str,
    due: dt.date,
    note: str = "",
    assignee: str = "",
    now: dt.datetime | None = None,
) -> int:
    """A task made by hand."""
    if not title.strip():
        raise StoreError("a task needs a title")
    return insert_returning_id(
        connection,
        insert(task_t).values(
            client_id=client_id,
            title=storable_text(title.strip()),
            note=storable_text(note),
            due=due,
            assignee=storable_text(assignee.strip()),
            done=False,
            done_at=None,
            created_at=now or _now(),
            rule_id=None,
            rule_name="",
        ),
    )


# --- email batches ----------------------------------------------------------------------------


def list_batches(connection: Connection) -> list[BatchInfo]:
    """Every email batch, newest first, with counts per message status."""
    counts: dict[int, dict[str, int]] = {}
    for batch_id, status, number in connection.execute(
        select(message_t.c.batch_id, message_t.c.status, func.count()).group_by(
            message_t.c.batch_id, message_t.c.status
        )
    ):
        counts.setdefault(int(batch_id), {})[str(status)] = int(number)
    result = []
    for row in connection.execute(select(batch_t).order_by(batch_t.c.id.desc())).mappings():
        found = counts.get(int(row["id"]), {})
        result.append(
            BatchInfo(
                id=int(row["id"]),
                created_at=row["created_at"],
                rule_name=row["rule_name"],
                cause=row["cause"],
                ready=found.get("ready", 0),
                sent=found.get("sent", 0),
                failed=found.get("failed", 0),
                no_email=found.get("no_email", 0),
            )
        )
    return result


def batch_messages(
    connection: Connection, batch_id: int, message_ids: Collection[int] | None = None
) -> list[EmailMessage]:
    """A batch's messages by client ref (or just the given ones)."""
    query = select(message_t).where(message_t.c.batch_id == batch_id)
    if message_ids is not None:
        query = query.where(message_t.c.id.in_(list(message_ids)))
    rows = connection.execute(query.order_by(message_t.c.id)).mappings()
    messages = [
        EmailMessage(
            id=int(row["id"]),
            batch_id=int(row["batch_id"]),
            client_id=row["client_id"],
            client_ref=row["client_ref"],
            client_name=row["client_name"],
            recipient=row["recipient"],
            subject=row["subject"],
            body=row["body"],
            status=row["status"],
            attempts=int(row["attempts"]),
            last_error=row["last_error"],
            sent_at=row["sent_at"],
        )
        for row in rows
    ]
    messages.sort(key=lambda m: m.client_ref.encode("utf-8"))
    return messages


def record_send(
    connection: Connection,
    message_id: int,
    ok: bool,
    detail: str,
    at: dt.datetime | None = None,
) -> None:
    """Record one attempt to send a message: sent, or failed (and retryable).

    Refuses a message that was already sent, or has no usable address.
    """
    row = (
        connection.execute(
            select(message_t.c.status, message_t.c.recipient).where(message_t.c.id == message_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise StoreError("that email no longer exists")
    if row["status"] not in ("ready", "failed"):
        raise StoreError(f"that email cannot be sent again (it is {row['status']})")
    when = at or _now()
    connection.execute(
        insert(send_log_t).values(
            message_id=message_id,
            at=when,
            recipient=row["recipient"] or "",
            ok=ok,
            detail=storable_text(detail),
        )
    )
    connection.execute(
        update(message_t)
        .where(message_t.c.id == message_id)
        .values(
            status="sent" if ok else "failed",
            attempts=message_t.c.attempts + 1,
            last_error=None if ok else storable_text(detail),
            sent_at=when if ok else None,
        )
    )


def send_log(connection: Connection, batch_id: int) -> list[SendAttempt]:
    """Every attempt to send the messages of a batch, oldest first."""
    query = (
        select(
            send_log_t.c.message_id,
            send_log_t.c.at,
            send_log_t.c.recipient,
            send_log_t.c.ok,
            send_log_t.c.detail,
        )
        .select_from(send_log_t.join(message_t, message_t.c.id == send_log_t.c.message_id))
        .where(message_t.c.batch_id == batch_id)
        .order_by(send_log_t.c.id)
    )
    return [
        SendAttempt(int(m), at, str(r), bool(ok), str(d))
        for m, at, r, ok, d in connection.execute(query)
    ]


# --- the outgoing mail server -------------------------------------------------------------------

MAIL_SETTINGS_KEY = "mail_server"


def mail_settings_text(connection: Connection) -> str | None:
    """The saved outgoing-server settings as JSON text (never a password), if any."""
    value = connection.execute(
        select(setting_t.c.value).where(setting_t.c.key == MAIL_SETTINGS_KEY)
    ).scalar()
    return str(value) if value is not None else None


def save_mail_settings_text(connection: Connection, value: str) -> None:
    """Replace the saved outgoing-server settings (JSON text, without the password)."""
    connection.execute(delete(setting_t).where(setting_t.c.key == MAIL_SETTINGS_KEY))
    connection.execute(insert(setting_t).values(key=MAIL_SETTINGS_KEY, value=value))
