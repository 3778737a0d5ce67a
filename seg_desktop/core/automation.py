"""Automation rules: "when a client enters / leaves / is in S, do A" (SPEC section 6).

Pure Python: the rule model and its validation, trigger evaluation over
membership sets, and the templates of tasks and emails. The store keeps, per
rule, the members the rule saw the last time it was evaluated; evaluating it
again compares that set with the membership now, so a client fires once per
entry (never every night while it stays):

* ``enters``: the clients in the current membership who were not in the one
  the rule last saw. A new or changed rule starts from the membership at the
  time it is saved, so it acts on entries from then on.
* ``leaves``: the clients the rule last saw who are no longer members.
* ``is in``: like ``enters``, but a new rule starts from nobody, so its first
  evaluation acts once on every current member; after that, on each entry.

Templates use ``{field}`` placeholders (``{{`` and ``}}`` for literal braces).
Only the fields in :data:`TEMPLATE_FIELDS` exist; anything else (a misspelt
name, a format spec, an attribute) is refused where it is typed, with the
unknown field named. Rendering never calls ``str.format`` on client data.
"""

from __future__ import annotations

import datetime as dt
import enum
import string
from collections.abc import Mapping
from dataclasses import dataclass

from seg_desktop.core.money import format_money
from seg_desktop.core.rules import ClientFacts


class AutomationError(ValueError):
    """A rule or template that cannot be saved; the message is for the user."""


class TemplateError(AutomationError):
    """A template that does not parse, or names a field that does not exist."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class When(enum.StrEnum):
    """When a rule fires."""

    ENTERS = "enters"
    LEAVES = "leaves"
    IS_IN = "is_in"

    @property
    def words(self) -> str:
        """The trigger in plain words."""
        return {When.ENTERS: "enters", When.LEAVES: "leaves", When.IS_IN: "is in"}[self]


class TargetKind(enum.StrEnum):
    """What a rule watches: a rule segment or a tier of a strategy."""

    SEGMENT = "segment"
    TIER = "tier"


class ActionKind(enum.StrEnum):
    """What a rule does for each client it fires for."""

    CREATE_TASK = "create_task"
    ADD_TAG = "add_tag"
    REMOVE_TAG = "remove_tag"
    PREPARE_EMAIL = "prepare_email"

    @property
    def label(self) -> str:
        """The action in plain words."""
        return {
            ActionKind.CREATE_TASK: "Create a follow-up task",
            ActionKind.ADD_TAG: "Add a tag",
            ActionKind.REMOVE_TAG: "Remove a tag",
            ActionKind.PREPARE_EMAIL: "Prepare an email",
        }[self]


STRATEGY_KINDS = ("individual", "group")
"""The strategies a tier target may name (the values of ``core.tiers.StrategyKind``)."""


@dataclass(frozen=True)
class Target:
    """A segment by name, or a tier by strategy kind and tier name."""

    kind: TargetKind
    segment: str = ""
    strategy: str = ""
    tier: str = ""

    @classmethod
    def of_segment(cls, name: str) -> Target:
        """A segment target."""
        return cls(TargetKind.SEGMENT, segment=name)

    @classmethod
    def of_tier(cls, tier: str, strategy: str = "individual") -> Target:
        """A tier target (of the individual strategy unless told)."""
        return cls(TargetKind.TIER, strategy=strategy, tier=tier)

    @property
    def label(self) -> str:
        """The target in words: "segment High-Value Clients", "tier Gold"."""
        if self.kind is TargetKind.SEGMENT:
            return f"segment {self.segment}"
        if self.strategy == "group":
            return f"group tier {self.tier}"
        return f"tier {self.tier}"

    @property
    def name(self) -> str:
        """The segment's or the tier's name (what ``{segment}`` renders as)."""
        return self.segment if self.kind is TargetKind.SEGMENT else self.tier


@dataclass(frozen=True)
class Action:
    """What to do; the fields an action does not use stay empty.

    ``title`` and ``note`` (tasks) and ``subject`` and ``body`` (emails) are templates.
    """

    kind: ActionKind
    title: str = ""
    note: str = ""
    due_in_days: int = 7
    assignee: str = ""
    tag: str = ""
    subject: str = ""
    body: str = ""

    @property
    def summary(self) -> str:
        """The action in a few words, for lists."""
        if self.kind is ActionKind.CREATE_TASK:
            return f"task '{self.title}' due in {self.due_in_days} days"
        if self.kind is ActionKind.ADD_TAG:
            return f"add tag '{self.tag}'"
        if self.kind is ActionKind.REMOVE_TAG:
            return f"remove tag '{self.tag}'"
        return f"email '{self.subject}'"


@dataclass(frozen=True)
class AutomationRule:
    """One automation rule as typed (and as the definitions file holds it)."""

    name: str
    when: When
    target: Target
    action: Action
    paused: bool = False

    @property
    def sentence(self) -> str:
        """The rule in one sentence: "When a client enters segment X: add tag 'y'"."""
        paused = " (paused)" if self.paused else ""
        return f"When a client {self.when.words} {self.target.label}: {self.action.summary}{paused}"


MAX_DUE_DAYS = 3650
MAX_TAG_LENGTH = 200


def validate_rule(rule: AutomationRule) -> AutomationRule:
    """The rule with its texts trimmed, or AutomationError naming what is wrong.

    Checks the fields of its own action and its templates; whether the segment
    or tier exists is for the store to say.
    """
    name = rule.name.strip()
    if not name:
        raise AutomationError("an automation rule needs a name")
    where = f"rule '{name}'"
    try:
        when = When(rule.when)
    except ValueError:
        raise AutomationError(f"{where}: 'when' must be enters, leaves or is_in") from None
    target = rule.target
    try:
        target_kind = TargetKind(target.kind)
        kind = ActionKind(rule.action.kind)
    except ValueError:
        raise AutomationError(f"{where}: unknown target or action") from None
    if target_kind is TargetKind.SEGMENT:
        if not target.segment.strip():
            raise AutomationError(f"{where}: choose a segment")
        target = Target.of_segment(target.segment.strip())
    else:
        if target.strategy not in STRATEGY_KINDS:
            raise AutomationError(f"{where}: the strategy must be 'individual' or 'group'")
        if not target.tier.strip():
            raise AutomationError(f"{where}: choose a tier")
        target = Target.of_tier(target.tier.strip(), target.strategy)
    action = rule.action
    if kind is ActionKind.CREATE_TASK:
        if not action.title.strip():
            raise AutomationError(f"{where}: a task needs a title")
        check_template(action.title, f"{where}, task title")
        check_template(action.note, f"{where}, task note")
        if isinstance(action.due_in_days, bool) or not 0 <= action.due_in_days <= MAX_DUE_DAYS:
            raise AutomationError(
                f"{where}: a task is due in 0 to {MAX_DUE_DAYS} days, not {action.due_in_days}"
            )
        action = Action(
            kind,
            title=action.title.strip(),
            note=action.note,
            due_in_days=action.due_in_days,
            assignee=action.assignee.strip(),
        )
    elif kind in (ActionKind.ADD_TAG, ActionKind.REMOVE_TAG):
        tag = action.tag.strip()
        if not tag:
            raise AutomationError(
                f"{where}: type the tag to {'add' if kind is ActionKind.ADD_TAG else 'remove'}"
            )
        if ";" in tag:
            raise AutomationError(f"{where}: a tag cannot contain ';' (it separates tags in files)")
        if len(tag) > MAX_TAG_LENGTH:
            raise AutomationError(f"{where}: a tag is at most {MAX_TAG_LENGTH} characters")
        action = Action(kind, tag=tag)
    else:
        if not action.subject.strip():
            raise AutomationError(f"{where}: an email needs a subject")
        if not action.body.strip():
            raise AutomationError(f"{where}: an email needs a body")
        check_template(action.subject, f"{where}, email subject")
        check_template(action.body, f"{where}, email body")
        action = Action(kind, subject=action.subject.strip(), body=action.body)
    return AutomationRule(name, when, target, action, bool(rule.paused))


# --- triggers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """One rule evaluated: who entered, who left, and whom the rule acts on."""

    entered: frozenset[int]
    left: frozenset[int]
    fired: frozenset[int]


def evaluate(when: When, previous: frozenset[int], current: frozenset[int]) -> Evaluation:
    """Compare the members a rule last saw (``previous``) with the members now.

    The rule's new "last seen" set is ``current`` whatever fires.
    """
    entered = current - previous
    left = previous - current
    fired = left if when is When.LEAVES else entered
    return Evaluation(frozenset(entered), frozenset(left), frozenset(fired))


def baseline(when: When, current: frozenset[int]) -> frozenset[int]:
    """What a newly saved (or re-pointed, or resumed) rule starts from as "last seen".

    ``enters`` and ``leaves`` start from the members now, so only later changes
    fire; ``is in`` starts from nobody, so its first evaluation acts on every member.
    """
    return frozenset() if when is When.IS_IN else current


# --- templates --------------------------------------------------------------------------------

TEMPLATE_FIELDS: dict[str, str] = {
    "name": "the client's name",
    "company_name": "the client's name (as the rule field is called)",
    "ref": "the client's reference",
    "email": "the client's email address",
    "status": "the client's status",
    "tags": "the client's tags, separated by commas",
    "tier": "the client's tier in the current run",
    "total_revenue": "all-time revenue, e.g. 12,345.67",
    "invoice_count": "the number of revenue records",
    "average_invoice_amount": "average per record, e.g. 1,234.50",
    "first_invoice_date": "the earliest record's date (YYYY-MM-DD)",
    "last_invoice_date": "the latest record's date (YYYY-MM-DD)",
    "segment": "the segment or tier the rule watches",
    "today": "the date the rule fired (YYYY-MM-DD)",
}
"""Every field a template may use, with what it holds."""


@dataclass(frozen=True)
class Template:
    """A parsed template: literal texts and field names, in order."""

    parts: tuple[tuple[str, str | None], ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields it uses, in order of first use."""
        seen: list[str] = []
        for _literal, field in self.parts:
            if field is not None and field not in seen:
                seen.append(field)
        return tuple(seen)


def parse_template(text: str, where: str = "template") -> Template:
    """Parse a template, or TemplateError naming the unknown field or the stray brace."""
    parts: list[tuple[str, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        detail = str(error).replace("Single", "a single").replace("encountered", "without its pair")
        raise TemplateError(f"{where}: {detail} (write {{{{ or }}}} for a literal brace)") from None
    known = ", ".join("{" + name + "}" for name in TEMPLATE_FIELDS)
    for literal, field, spec, conversion in parsed:
        if field is None:
            parts.append((literal, None))
            continue
        name = field.strip()
        if name == "":
            raise TemplateError(f"{where}: an empty {{}} names no field (the fields are {known})")
        if name not in TEMPLATE_FIELDS or conversion or spec:
            shown = (
                "{"
                + field
                + ("!" + conversion if conversion else "")
                + (":" + spec if spec else "")
                + "}"
            )
            raise TemplateError(
                f"{where}: unknown field {shown} (the fields are {known})", field=field
            )
        parts.append((literal, name))
    return Template(tuple(parts))


def check_template(text: str, where: str = "template") -> None:
    """Raise TemplateError if the template would be refused (for editors, as it is typed)."""
    parse_template(text, where)


@dataclass(frozen=True)
class ClientValues:
    """What a template can say about one client: the rule fields plus ref."""

    ref: str
    facts: ClientFacts


def template_values(client: ClientValues, target: Target, today: dt.date) -> dict[str, str]:
    """Every template field's text for one client (empty where the field is empty)."""
    facts = client.facts

    def day(value: dt.date | None) -> str:
        return value.isoformat() if value is not None else ""

    average = facts.average_invoice_amount
    return {
        "name": facts.name or "",
        "company_name": facts.name or "",
        "ref": client.ref,
        "email": facts.email or "",
        "status": facts.status or "",
        "tags": ", ".join(sorted(facts.tags, key=lambda tag: (tag.casefold(), tag))),
        "tier": facts.tier or "",
        "total_revenue": format_money(facts.total_revenue),
        "invoice_count": str(facts.invoice_count),
        "average_invoice_amount": format_money(average) if average is not None else "",
        "first_invoice_date": day(facts.first_invoice_date),
        "last_invoice_date": day(facts.last_invoice_date),
        "segment": target.name,
        "today": today.isoformat(),
    }


def render(template: Template | str, values: Mapping[str, str]) -> str:
    """The template with every field replaced by its value (a str is parsed first)."""
    parsed = parse_template(template) if isinstance(template, str) else template
    return "".join(
        literal + (values.get(field, "") if field else "") for literal, field in parsed.parts
    )


def render_header(template: Template | str, values: Mapping[str, str]) -> str:
    """Like :func:`render`, on one line: line breaks from client data become spaces.

    For an email subject or a task title (a header with a line break in it would
    be refused, or worse, read as a second header).
    """
    text = render(template, values)
    return " ".join(text.replace("\r", " ").replace("\n", " ").split())


def is_plausible_address(address: str) -> bool:
    """Whether a text can be sent to: one address, local@domain, no spaces or line breaks."""
    if not address or any(c.isspace() for c in address) or "," in address or ";" in address:
        return False
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain and "." in domain.strip(".") and "<" not in address)
