"""Rule segments: fields, operators, values, plain words, and evaluation in Python.

The store compiles the same rules to SQL; the Python evaluation here is the
reference both are tested against, and it explains to a user why a client is
in or out of a segment.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from seg_desktop.core.money import Cents, MoneyError, format_money, parse_money


class FieldType(enum.StrEnum):
    """What kind of value a field holds; it decides operators and value editors."""

    TEXT = "text"
    TAGS = "tags"
    MONEY = "money"
    INTEGER = "integer"
    DATE = "date"


class RuleField(enum.StrEnum):
    """The client fields a criterion can test (SPEC section 3)."""

    COMPANY_NAME = "company_name"
    EMAIL = "email"
    STATUS = "status"
    TAGS = "tags"
    TOTAL_REVENUE = "total_revenue"
    INVOICE_COUNT = "invoice_count"
    AVERAGE_INVOICE_AMOUNT = "average_invoice_amount"
    FIRST_INVOICE_DATE = "first_invoice_date"
    LAST_INVOICE_DATE = "last_invoice_date"
    TIER = "tier"

    @property
    def type(self) -> FieldType:
        """The field's value type."""
        return _FIELD_TYPES[self]

    @property
    def label(self) -> str:
        """The field's name in plain words."""
        return _FIELD_LABELS[self]


_FIELD_TYPES = {
    RuleField.COMPANY_NAME: FieldType.TEXT,
    RuleField.EMAIL: FieldType.TEXT,
    RuleField.STATUS: FieldType.TEXT,
    RuleField.TAGS: FieldType.TAGS,
    RuleField.TOTAL_REVENUE: FieldType.MONEY,
    RuleField.INVOICE_COUNT: FieldType.INTEGER,
    RuleField.AVERAGE_INVOICE_AMOUNT: FieldType.MONEY,
    RuleField.FIRST_INVOICE_DATE: FieldType.DATE,
    RuleField.LAST_INVOICE_DATE: FieldType.DATE,
    RuleField.TIER: FieldType.TEXT,
}

_FIELD_LABELS = {
    RuleField.COMPANY_NAME: "Company name",
    RuleField.EMAIL: "Email",
    RuleField.STATUS: "Status",
    RuleField.TAGS: "Tags",
    RuleField.TOTAL_REVENUE: "Total revenue",
    RuleField.INVOICE_COUNT: "Invoice count",
    RuleField.AVERAGE_INVOICE_AMOUNT: "Average invoice amount",
    RuleField.FIRST_INVOICE_DATE: "First invoice date",
    RuleField.LAST_INVOICE_DATE: "Last invoice date",
    RuleField.TIER: "Tier",
}


class Operator(enum.StrEnum):
    """How a criterion compares a field with its value."""

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    CONTAINS = "contains"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"
    IS_EMPTY = "is_empty"
    IS_NOT_EMPTY = "is_not_empty"

    @property
    def takes_value(self) -> bool:
        """Whether a value follows the operator."""
        return self not in (Operator.IS_EMPTY, Operator.IS_NOT_EMPTY)


_TEXT_OPERATORS = (
    Operator.EQUALS,
    Operator.NOT_EQUALS,
    Operator.CONTAINS,
    Operator.IS_EMPTY,
    Operator.IS_NOT_EMPTY,
)
_ORDERED_OPERATORS = (
    Operator.EQUALS,
    Operator.NOT_EQUALS,
    Operator.GREATER_THAN,
    Operator.LESS_THAN,
    Operator.IS_EMPTY,
    Operator.IS_NOT_EMPTY,
)


def operators_for(field: RuleField) -> tuple[Operator, ...]:
    """The operators that make sense for a field, in the order the editor lists them."""
    if field.type in (FieldType.TEXT, FieldType.TAGS):
        return _TEXT_OPERATORS
    return _ORDERED_OPERATORS


class RuleValueError(ValueError):
    """A criterion whose value does not fit its field; the message is for the user."""


class MatchMode(enum.StrEnum):
    """Whether every criterion or any one must match."""

    ALL = "all"
    ANY = "any"


@dataclass(frozen=True)
class RelativeDays:
    """A date value 'N days ago', resolved against the as-of date."""

    days: int


RuleValue = str | Cents | dt.date | RelativeDays | None


@dataclass(frozen=True)
class Criterion:
    """One `field operator value` line, as typed (value text kept as entered)."""

    field: RuleField
    operator: Operator
    value: str | None = None

    def __post_init__(self) -> None:
        # Accept the names as a file or a form gives them ("total_revenue", "less_than").
        try:
            object.__setattr__(self, "field", RuleField(self.field))
        except ValueError:
            raise RuleValueError(f"unknown field '{self.field}'") from None
        try:
            object.__setattr__(self, "operator", Operator(self.operator))
        except ValueError:
            raise RuleValueError(f"unknown operator '{self.operator}'") from None


@dataclass(frozen=True)
class ParsedCriterion:
    """A criterion whose value has been checked and converted to the field's type."""

    field: RuleField
    operator: Operator
    value: RuleValue

    @property
    def source(self) -> Criterion:
        """The criterion as it would be typed."""
        return Criterion(self.field, self.operator, format_value(self.field, self.value))


@dataclass(frozen=True)
class SegmentDefinition:
    """A rule segment's definition: what the editor edits and the store saves."""

    name: str
    criteria: tuple[Criterion, ...]
    match: MatchMode = MatchMode.ALL
    description: str = ""


_RELATIVE = re.compile(r"^\s*(\d{1,5})\s+days?\s+ago\s*$", re.IGNORECASE)
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
_INTEGER = re.compile(r"^\s*([+-]?\d{1,12})\s*$")


def parse_criterion(criterion: Criterion) -> ParsedCriterion:
    """Check a criterion and convert its value; raise RuleValueError with the reason."""
    field, operator = criterion.field, criterion.operator
    if operator not in operators_for(field):
        raise RuleValueError(f"{field.label} cannot use '{operator_words(field, operator)}'")
    if not operator.takes_value:
        return ParsedCriterion(field, operator, None)
    raw = criterion.value if criterion.value is not None else ""
    return ParsedCriterion(field, operator, parse_value(field, raw))


def parse_value(field: RuleField, raw: str) -> RuleValue:
    """Convert a typed value to the field's type, or raise RuleValueError."""
    kind = field.type
    if kind in (FieldType.TEXT, FieldType.TAGS):
        if raw == "":
            raise RuleValueError(f"{field.label}: type a value (or use 'is empty')")
        return raw
    if kind is FieldType.MONEY:
        try:
            return parse_money(raw)
        except MoneyError as error:
            raise RuleValueError(f"{field.label}: {error}") from None
    if kind is FieldType.INTEGER:
        match = _INTEGER.match(raw)
        if match is None:
            raise RuleValueError(f"{field.label}: '{raw}' is not a whole number")
        return int(match.group(1))
    relative = _RELATIVE.match(raw)
    if relative is not None:
        return RelativeDays(int(relative.group(1)))
    absolute = _ISO_DATE.match(raw)
    if absolute is None:
        raise RuleValueError(
            f"{field.label}: '{raw}' is not a date; use YYYY-MM-DD or 'N days ago'"
        )
    try:
        return dt.date(int(absolute.group(1)), int(absolute.group(2)), int(absolute.group(3)))
    except ValueError:
        raise RuleValueError(f"{field.label}: {raw.strip()} is not a real date") from None


def format_value(field: RuleField, value: RuleValue) -> str | None:
    """The canonical text of a parsed value (what the definitions file stores)."""
    if value is None:
        return None
    if isinstance(value, RelativeDays):
        return f"{value.days} day{'' if value.days == 1 else 's'} ago"
    if isinstance(value, dt.date):
        return value.isoformat()
    if field.type is FieldType.MONEY and isinstance(value, int):
        from seg_desktop.core.money import format_plain

        return format_plain(value)
    return str(value)


def validate_definition(definition: SegmentDefinition) -> tuple[ParsedCriterion, ...]:
    """All criteria parsed, or RuleValueError naming the first bad one (1-based)."""
    if not definition.name.strip():
        raise RuleValueError("a segment needs a name")
    parsed = []
    for position, criterion in enumerate(definition.criteria, start=1):
        try:
            parsed.append(parse_criterion(criterion))
        except RuleValueError as error:
            raise RuleValueError(f"criterion {position}: {error}") from None
    return tuple(parsed)


# --- Plain words -----------------------------------------------------------------------------


def operator_words(field: RuleField, operator: Operator) -> str:
    """The operator in words that fit the field ('more than', 'before', 'has tag', ...)."""
    kind = field.type
    if kind is FieldType.TAGS:
        return {
            Operator.EQUALS: "has the tag",
            Operator.NOT_EQUALS: "does not have the tag",
            Operator.CONTAINS: "has a tag containing",
            Operator.IS_EMPTY: "has no tags",
            Operator.IS_NOT_EMPTY: "has tags",
        }.get(operator, operator.value)
    if kind is FieldType.DATE:
        return {
            Operator.EQUALS: "is on",
            Operator.NOT_EQUALS: "is not on",
            Operator.GREATER_THAN: "is after",
            Operator.LESS_THAN: "is before",
            Operator.IS_EMPTY: "is empty",
            Operator.IS_NOT_EMPTY: "is not empty",
        }.get(operator, operator.value)
    return {
        Operator.EQUALS: "is",
        Operator.NOT_EQUALS: "is not",
        Operator.CONTAINS: "contains",
        Operator.GREATER_THAN: "is more than",
        Operator.LESS_THAN: "is less than",
        Operator.IS_EMPTY: "is empty",
        Operator.IS_NOT_EMPTY: "is not empty",
    }[operator]


def describe(criterion: ParsedCriterion) -> str:
    """A criterion in plain words: 'Last invoice date within the last 90 days'."""
    field, operator, value = criterion.field, criterion.operator, criterion.value
    if field.type is FieldType.TAGS:
        if operator.takes_value:
            return f"{operator_words(field, operator).capitalize()} '{value}'"
        return operator_words(field, operator).capitalize()
    if not operator.takes_value:
        return f"{field.label} {operator_words(field, operator)}"
    if isinstance(value, RelativeDays):
        days = f"{value.days} day{'s' if value.days != 1 else ''}"
        phrase = {
            Operator.LESS_THAN: f"within the last {days}",
            Operator.GREATER_THAN: f"more than {days} ago",
            Operator.EQUALS: f"exactly {days} ago",
            Operator.NOT_EQUALS: f"not exactly {days} ago",
        }[operator]
        return f"{field.label} {phrase}"
    return f"{field.label} {operator_words(field, operator)} {value_words(field, value)}"


def value_words(field: RuleField, value: RuleValue) -> str:
    """A value as the window shows it: money grouped, text quoted, empty as '(empty)'."""
    if value is None:
        return "(empty)"
    if isinstance(value, RelativeDays):
        return f"{value.days} days ago"
    if isinstance(value, dt.date):
        return value.isoformat()
    if field.type is FieldType.MONEY and isinstance(value, int):
        return format_money(value)
    if field.type in (FieldType.TEXT, FieldType.TAGS):
        return f"'{value}'"
    return str(value)


def describe_definition(definition: SegmentDefinition) -> str:
    """The whole definition in words ('... and ...' or '... or ...')."""
    try:
        parsed = validate_definition(definition)
    except RuleValueError as error:
        return f"(not valid: {error})"
    if not parsed:
        return "every client" if definition.match is MatchMode.ALL else "no client"
    joiner = " and " if definition.match is MatchMode.ALL else " or "
    return joiner.join(describe(criterion) for criterion in parsed)


# --- Evaluation in Python ----------------------------------------------------------------------


@dataclass(frozen=True)
class ClientFacts:
    """Everything the rule fields read about one client."""

    client_id: int
    name: str | None
    email: str | None
    status: str | None
    tags: frozenset[str]
    total_revenue: Cents
    invoice_count: int
    average_invoice_amount: Cents | None
    first_invoice_date: dt.date | None
    last_invoice_date: dt.date | None
    tier: str | None

    def value_of(self, field: RuleField) -> str | Cents | dt.date | frozenset[str] | None:
        """The client's value for a field."""
        return {
            RuleField.COMPANY_NAME: self.name,
            RuleField.EMAIL: self.email,
            RuleField.STATUS: self.status,
            RuleField.TAGS: self.tags,
            RuleField.TOTAL_REVENUE: self.total_revenue,
            RuleField.INVOICE_COUNT: self.invoice_count,
            RuleField.AVERAGE_INVOICE_AMOUNT: self.average_invoice_amount,
            RuleField.FIRST_INVOICE_DATE: self.first_invoice_date,
            RuleField.LAST_INVOICE_DATE: self.last_invoice_date,
            RuleField.TIER: self.tier,
        }[field]


def resolve_date(value: RuleValue, as_of: dt.date) -> tuple[dt.date, bool]:
    """(cutoff date, relative?) for a date value; 'N days ago' is as_of minus N days."""
    if isinstance(value, RelativeDays):
        return as_of - dt.timedelta(days=value.days), True
    assert isinstance(value, dt.date)
    return value, False


def effective_date_operator(criterion: ParsedCriterion) -> Operator:
    """The operator to apply to the date itself.

    A relative value compares the field's age, so 'less_than 90 days ago'
    (age < 90) is 'date after the cutoff', and 'greater_than' is 'before'.
    """
    if isinstance(criterion.value, RelativeDays):
        return {
            Operator.LESS_THAN: Operator.GREATER_THAN,
            Operator.GREATER_THAN: Operator.LESS_THAN,
        }.get(criterion.operator, criterion.operator)
    return criterion.operator


def matches(criterion: ParsedCriterion, facts: ClientFacts, as_of: dt.date) -> bool:
    """Whether one criterion holds for a client on the as-of date."""
    field, operator, value = criterion.field, criterion.operator, criterion.value
    actual = facts.value_of(field)
    kind = field.type
    if kind is FieldType.TAGS:
        assert isinstance(actual, frozenset)
        if operator is Operator.IS_EMPTY:
            return not actual
        if operator is Operator.IS_NOT_EMPTY:
            return bool(actual)
        assert isinstance(value, str)
        if operator is Operator.EQUALS:
            return value in actual
        if operator is Operator.NOT_EQUALS:
            return value not in actual
        return any(value in tag for tag in actual)
    if kind is FieldType.TEXT:
        assert actual is None or isinstance(actual, str)
        empty = actual is None or actual == ""
        if operator is Operator.IS_EMPTY:
            return empty
        if operator is Operator.IS_NOT_EMPTY:
            return not empty
        assert isinstance(value, str)
        if operator is Operator.EQUALS:
            return actual == value
        if operator is Operator.NOT_EQUALS:
            return actual != value
        return actual is not None and value in actual
    if operator is Operator.IS_EMPTY:
        return actual is None
    if operator is Operator.IS_NOT_EMPTY:
        return actual is not None
    if kind is FieldType.DATE:
        cutoff, _ = resolve_date(value, as_of)
        return _compare(actual, effective_date_operator(criterion), cutoff)
    return _compare(actual, operator, value)


def _compare(actual: object, operator: Operator, value: object) -> bool:
    equal = actual is not None and actual == value
    if operator is Operator.EQUALS:
        return equal
    if operator is Operator.NOT_EQUALS:
        return not equal
    if actual is None:
        return False
    if operator is Operator.GREATER_THAN:
        return bool(actual > value)  # type: ignore[operator]
    if operator is Operator.LESS_THAN:
        return bool(actual < value)  # type: ignore[operator]
    raise AssertionError(f"operator {operator} on an ordered field")


def segment_matches(
    criteria: Sequence[ParsedCriterion], match: MatchMode, facts: ClientFacts, as_of: dt.date
) -> bool:
    """Whether a client is a member of a segment with these criteria."""
    results = (matches(criterion, facts, as_of) for criterion in criteria)
    return all(results) if match is MatchMode.ALL else any(results)


@dataclass(frozen=True)
class CriterionVerdict:
    """One line of 'why in / why out': the criterion, the client's value, and the result."""

    criterion: ParsedCriterion
    passed: bool
    explanation: str


def explain(
    criteria: Sequence[ParsedCriterion], facts: ClientFacts, as_of: dt.date
) -> list[CriterionVerdict]:
    """Each criterion with the client's value and whether it passes, in plain words."""
    verdicts = []
    for criterion in criteria:
        passed = matches(criterion, facts, as_of)
        actual = facts.value_of(criterion.field)
        verdicts.append(
            CriterionVerdict(criterion, passed, _explain_one(criterion, actual, passed, as_of))
        )
    return verdicts


def _explain_one(criterion: ParsedCriterion, actual: object, passed: bool, as_of: dt.date) -> str:
    field = criterion.field
    wanted = describe(criterion)
    if field.type is FieldType.TAGS:
        assert isinstance(actual, frozenset)
        shown = ", ".join(sorted(actual)) if actual else "no tags"
        have = f"Tags: {shown}"
    elif actual is None or actual == "":
        have = f"{field.label}: empty"
    elif isinstance(actual, dt.date):
        age = (as_of - actual).days
        have = f"{field.label} {actual.isoformat()}, {age} day{'s' if abs(age) != 1 else ''} ago"
    else:
        have = f"{field.label}: {value_words(field, actual)}"  # type: ignore[arg-type]
    verdict = "passes" if passed else "does not pass"
    lowered = wanted[0].lower() + wanted[1:]
    return f"{have}: {verdict} '{lowered}'"
