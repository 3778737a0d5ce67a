"""Rule segments compiled to SQL, over the per-client rollups.

Every criterion compiles to an expression that is never NULL, so `not_equals`
is exactly the negation of `equals` and `any` / `all` behave as in Python
(`seg_desktop.core.rules.matches` is the reference). Values are always bound
parameters: no SQL is built from what a user typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

from seg_desktop.core.rules import (
    FieldType,
    MatchMode,
    Operator,
    ParsedCriterion,
    RuleField,
    effective_date_operator,
    resolve_date,
)
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store.dialect import contains_literal
from seg_desktop.store.schema import Client, ClientStats, ClientTag, RunAssignment, table_of

client = table_of(Client)
stats = table_of(ClientStats)
tags = table_of(ClientTag)
assignment = table_of(RunAssignment)


def facts_from(current_run_id: int | None) -> FromClause:
    """client LEFT JOIN its rollup LEFT JOIN its individual tier in the current run."""
    joined = client.outerjoin(stats, stats.c.client_id == client.c.id)
    run_match = assignment.c.run_id == (current_run_id if current_run_id is not None else -1)
    return joined.outerjoin(
        assignment,
        and_(
            run_match,
            assignment.c.kind == StrategyKind.INDIVIDUAL.value,
            assignment.c.subject_id == client.c.id,
        ),
    )


def _column(field: RuleField) -> ColumnElement[object]:
    columns: dict[RuleField, ColumnElement[object]] = {
        RuleField.COMPANY_NAME: client.c.name,
        RuleField.EMAIL: client.c.email,
        RuleField.STATUS: client.c.status,
        RuleField.TOTAL_REVENUE: func.coalesce(stats.c.total_cents, 0),
        RuleField.INVOICE_COUNT: func.coalesce(stats.c.invoice_count, 0),
        RuleField.AVERAGE_INVOICE_AMOUNT: stats.c.average_cents,
        RuleField.FIRST_INVOICE_DATE: stats.c.first_date,
        RuleField.LAST_INVOICE_DATE: stats.c.last_date,
        RuleField.TIER: assignment.c.tier_name,
    }
    return columns[field]


def compile_criterion(criterion: ParsedCriterion, as_of: dt.date) -> ColumnElement[bool]:
    """One criterion as a never-NULL boolean SQL expression."""
    field, operator, value = criterion.field, criterion.operator, criterion.value
    if field.type is FieldType.TAGS:
        return _compile_tags(operator, value)
    column = _column(field)
    if field.type is FieldType.TEXT:
        empty = or_(column.is_(None), column == "")
        if operator is Operator.IS_EMPTY:
            return empty
        if operator is Operator.IS_NOT_EMPTY:
            return not_(empty)
        assert isinstance(value, str)
        equal = func.coalesce(column, "") == literal(value)
        if operator is Operator.EQUALS:
            return equal
        if operator is Operator.NOT_EQUALS:
            return not_(equal)
        return contains_literal(func.coalesce(column, ""), value)
    if operator is Operator.IS_EMPTY:
        return column.is_(None)
    if operator is Operator.IS_NOT_EMPTY:
        return column.is_not(None)
    bound: object = value
    if field.type is FieldType.DATE:
        bound, _ = resolve_date(value, as_of)
        operator = effective_date_operator(criterion)
    present = column.is_not(None)
    if operator is Operator.EQUALS:
        return and_(present, column == bound)
    if operator is Operator.NOT_EQUALS:
        return not_(and_(present, column == bound))
    if operator is Operator.GREATER_THAN:
        return and_(present, column > bound)
    if operator is Operator.LESS_THAN:
        return and_(present, column < bound)
    raise AssertionError(f"{operator} on {field}")


def _compile_tags(operator: Operator, value: object) -> ColumnElement[bool]:
    own = tags.c.client_id == client.c.id
    if operator is Operator.IS_EMPTY:
        return not_(exists().where(own))
    if operator is Operator.IS_NOT_EMPTY:
        return exists().where(own)
    assert isinstance(value, str)
    if operator is Operator.EQUALS:
        return exists().where(own, tags.c.tag == value)
    if operator is Operator.NOT_EQUALS:
        return not_(exists().where(own, tags.c.tag == value))
    return exists().where(own, contains_literal(tags.c.tag, value))


def compile_segment(
    criteria: Sequence[ParsedCriterion], match: MatchMode, as_of: dt.date
) -> ColumnElement[bool]:
    """The definition as one boolean expression (no criteria: all -> everyone, any -> none)."""
    parts = [compile_criterion(criterion, as_of) for criterion in criteria]
    if not parts:
        return true() if match is MatchMode.ALL else false()
    return and_(*parts) if match is MatchMode.ALL else or_(*parts)


def members_query(
    criteria: Sequence[ParsedCriterion],
    match: MatchMode,
    as_of: dt.date,
    current_run_id: int | None,
) -> Select[int]:
    """SELECT the ids of the clients that match."""
    condition = compile_segment(criteria, match, as_of)
    return select(client.c.id).select_from(facts_from(current_run_id)).where(condition)
