"""The definitions file: settings, strategies, rule segments and automation rules in one TOML
file (SPEC sections 4 and 6)."""

from __future__ import annotations

import datetime as dt
import stat
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import tomli_w

from seg_desktop.core.automation import (
    Action,
    ActionKind,
    AutomationError,
    AutomationRule,
    Target,
    TargetKind,
    When,
    validate_rule,
)
from seg_desktop.core.money import (
    MoneyError,
    cents_from_decimal,
    check_range,
    format_plain,
    parse_money,
)
from seg_desktop.core.periods import SegmentationSettings
from seg_desktop.core.rules import (
    Criterion,
    MatchMode,
    Operator,
    RuleField,
    RuleValueError,
    SegmentDefinition,
    validate_definition,
)
from seg_desktop.core.tiers import Strategy, StrategyError, StrategyKind, Tier
from seg_desktop.io.atomic import atomic_write
from seg_desktop.store.records import Definitions, OfficeSettings


class DefinitionsFileError(ValueError):
    """A definitions file that cannot be applied; the message names the part and the reason."""


# A real definitions file is a few kilobytes; this is room for thousands of segments.
MAX_DEFINITIONS_BYTES = 16 * 1024 * 1024


def read_definitions(path: Path, current: OfficeSettings | None = None) -> Definitions:
    """Parse and fully validate a definitions file (nothing is applied here)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            # A pipe or a device would block the reader (or never end).
            raise DefinitionsFileError(f"{path} is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_DEFINITIONS_BYTES + 1)
        if len(data) > MAX_DEFINITIONS_BYTES:
            raise DefinitionsFileError(
                f"{path} is too large for a definitions file (over "
                f"{MAX_DEFINITIONS_BYTES // 1_048_576} MB)"
            )
        raw = tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise DefinitionsFileError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise DefinitionsFileError(f"{path} is not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as error:
        raise DefinitionsFileError(f"{path} is not valid TOML: {error}") from None
    except RecursionError:
        # TOML's reader descends once per level: arrays inside arrays thousands deep
        # exhaust it. No definitions file nests more than a few levels.
        raise DefinitionsFileError(
            f"{path} is not a definitions file: its arrays or tables are nested inside each "
            "other far too deeply (a definitions file nests a few levels)"
        ) from None
    except OSError as error:
        raise DefinitionsFileError(f"cannot read {path}: {error.strerror}") from None
    return parse_definitions(raw, current)


def parse_definitions(raw: dict[str, Any], current: OfficeSettings | None = None) -> Definitions:
    """Turn the parsed TOML into Definitions, refusing anything invalid with a clear message."""
    unknown = set(raw) - {"settings", "strategies", "segments", "automations"}
    if unknown:
        raise DefinitionsFileError(f"unknown section [{sorted(unknown)[0]}]")
    settings = None
    if "settings" in raw:
        settings = _settings(raw["settings"], current or OfficeSettings())
    strategies = []
    for kind_name, body in _table(raw.get("strategies", {}), "strategies").items():
        try:
            kind = StrategyKind(kind_name)
        except ValueError:
            raise DefinitionsFileError(
                f"[strategies.{kind_name}]: the strategies are 'individual' and 'group'"
            ) from None
        strategies.append(_strategy(kind, _table(body, f"strategies.{kind_name}")))
    segments = []
    entries = raw.get("segments", [])
    if not isinstance(entries, list):
        raise DefinitionsFileError("segments must be written as [[segments]] tables")
    for position, entry in enumerate(entries, start=1):
        segments.append(_segment(_table(entry, f"segment {position}"), position))
    names = [s.name for s in segments]
    for name in names:
        if names.count(name) > 1:
            raise DefinitionsFileError(f"the segment '{name}' is defined twice")
    automations = []
    rule_entries = raw.get("automations", [])
    if not isinstance(rule_entries, list):
        raise DefinitionsFileError("automations must be written as [[automations]] tables")
    for position, entry in enumerate(rule_entries, start=1):
        automations.append(_automation(_table(entry, f"automation {position}"), position))
    rule_names = [rule.name for rule in automations]
    for name in rule_names:
        if rule_names.count(name) > 1:
            raise DefinitionsFileError(f"the automation rule '{name}' is defined twice")
    return Definitions(
        settings=settings, strategies=strategies, segments=segments, automations=automations
    )


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DefinitionsFileError(f"{where} must be a table")
    return value


def _known_keys(table: dict[str, Any], known: set[str], where: str) -> None:
    # A misspelt key ("critera") must not silently drop what it was meant to hold.
    unknown = sorted(set(table) - known)
    if unknown:
        raise DefinitionsFileError(
            f"{where}: unknown key '{unknown[0]}' (expected {', '.join(sorted(known))})"
        )


def _settings(body: object, current: OfficeSettings) -> OfficeSettings:
    table = _table(body, "[settings]")
    unknown = set(table) - {"max_months", "buffer_months", "nightly_enabled", "nightly_time"}
    if unknown:
        raise DefinitionsFileError(f"[settings]: unknown setting '{sorted(unknown)[0]}'")
    try:
        segmentation = SegmentationSettings(
            max_months=_integer(
                table.get("max_months", current.segmentation.max_months), "max_months"
            ),
            buffer_months=_integer(
                table.get("buffer_months", current.segmentation.buffer_months), "buffer_months"
            ),
        )
    except ValueError as error:
        raise DefinitionsFileError(f"[settings]: {error}") from None
    enabled = table.get("nightly_enabled", current.nightly_enabled)
    if not isinstance(enabled, bool):
        raise DefinitionsFileError("[settings]: nightly_enabled must be true or false")
    time_text = table.get("nightly_time", current.nightly_time.strftime("%H:%M"))
    try:
        nightly_time = dt.time.fromisoformat(str(time_text))
    except ValueError:
        raise DefinitionsFileError(f"[settings]: nightly_time '{time_text}' is not HH:MM") from None
    return OfficeSettings(segmentation, enabled, nightly_time)


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DefinitionsFileError(f"[settings]: {name} must be a whole number")
    return value


def _strategy(kind: StrategyKind, body: dict[str, Any]) -> Strategy:
    where = f"[strategies.{kind.value}]"
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise DefinitionsFileError(f"{where}: active must be true or false")
    tiers_raw = body.get("tiers", [])
    if not isinstance(tiers_raw, list):
        raise DefinitionsFileError(f"{where}: tiers must be a list")
    tiers = []
    for position, entry in enumerate(tiers_raw, start=1):
        tier = _table(entry, f"{where} tier {position}")
        _known_keys(tier, {"name", "monthly_lower"}, f"{where} tier {position}")
        name = tier.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DefinitionsFileError(f"{where} tier {position}: a tier needs a name")
        tiers.append(
            Tier(name.strip(), _limit(tier.get("monthly_lower"), f"{where} tier '{name}'"))
        )
    strategy = Strategy(kind, tuple(tiers), active)
    try:
        strategy.validate()
    except StrategyError as error:
        raise DefinitionsFileError(f"{where}: {error}") from None
    _known_keys(body, {"active", "tiers"}, where)
    return strategy


def _limit(value: object, where: str) -> int:
    try:
        if isinstance(value, str):
            return parse_money(value)
        if isinstance(value, bool) or value is None:
            raise MoneyError("monthly_lower is required")
        if isinstance(value, int):
            return check_range(value * 100)
        if isinstance(value, float):
            # TOML floats are binary; read them through their shortest decimal text.
            return cents_from_decimal(Decimal(repr(value)))
    except (MoneyError, InvalidOperation) as error:
        raise DefinitionsFileError(f"{where}: {error}") from None
    raise DefinitionsFileError(f"{where}: monthly_lower must be an amount")


def _segment(body: dict[str, Any], position: int) -> SegmentDefinition:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DefinitionsFileError(f"segment {position}: a segment needs a name")
    where = f"segment '{name}'"
    _known_keys(body, {"name", "description", "match", "criteria"}, where)
    match_text = body.get("match", "all")
    try:
        match = MatchMode(match_text)
    except ValueError:
        raise DefinitionsFileError(f"{where}: match must be 'all' or 'any'") from None
    description = body.get("description", "")
    if not isinstance(description, str):
        raise DefinitionsFileError(f"{where}: description must be text")
    entries = body.get("criteria", [])
    if not isinstance(entries, list):
        raise DefinitionsFileError(
            f"{where}: criteria must be a list of {{ field, operator, value }}"
        )
    criteria = []
    for index, entry in enumerate(entries, start=1):
        item = _table(entry, f"{where} criterion {index}")
        _known_keys(item, {"field", "operator", "value"}, f"{where} criterion {index}")
        try:
            field = RuleField(str(item.get("field")))
        except ValueError:
            raise DefinitionsFileError(
                f"{where} criterion {index}: unknown field '{item.get('field')}'"
            ) from None
        try:
            operator = Operator(str(item.get("operator")))
        except ValueError:
            raise DefinitionsFileError(
                f"{where} criterion {index}: unknown operator '{item.get('operator')}'"
            ) from None
        value = item.get("value")
        if value is not None and not isinstance(value, str):
            value = (
                str(value)
                if isinstance(value, int | float) and not isinstance(value, bool)
                else value
            )
        if value is not None and not isinstance(value, str):
            raise DefinitionsFileError(f"{where} criterion {index}: value must be text or a number")
        criteria.append(Criterion(field, operator, value if operator.takes_value else None))
    definition = SegmentDefinition(name.strip(), tuple(criteria), match, description)
    try:
        validate_definition(definition)
    except RuleValueError as error:
        raise DefinitionsFileError(f"{where}: {error}") from None
    return definition


_ACTION_KEYS = {
    ActionKind.CREATE_TASK: {"title", "note", "due_in_days", "assignee"},
    ActionKind.ADD_TAG: {"tag"},
    ActionKind.REMOVE_TAG: {"tag"},
    ActionKind.PREPARE_EMAIL: {"subject", "body"},
}
_RULE_KEYS = {"name", "when", "segment", "strategy", "tier", "action", "paused"}


def _automation(body: dict[str, Any], position: int) -> AutomationRule:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DefinitionsFileError(f"automation {position}: an automation rule needs a name")
    where = f"automation '{name}'"
    try:
        action_kind = ActionKind(str(body.get("action")))
    except ValueError:
        raise DefinitionsFileError(
            f"{where}: action must be one of {', '.join(k.value for k in ActionKind)}"
        ) from None
    _known_keys(body, _RULE_KEYS | _ACTION_KEYS[action_kind], where)
    try:
        when = When(str(body.get("when")))
    except ValueError:
        raise DefinitionsFileError(f"{where}: when must be enters, leaves or is_in") from None
    if "segment" in body and ("tier" in body or "strategy" in body):
        raise DefinitionsFileError(f"{where}: name a segment, or a strategy and a tier, not both")
    if "segment" in body:
        target = Target.of_segment(_text(body, "segment", where))
    elif "tier" in body:
        target = Target.of_tier(
            _text(body, "tier", where), _text(body, "strategy", where, "individual")
        )
    else:
        raise DefinitionsFileError(f"{where}: name a segment, or a strategy and a tier")
    due = body.get("due_in_days", 7)
    if isinstance(due, bool) or not isinstance(due, int):
        raise DefinitionsFileError(f"{where}: due_in_days must be a whole number of days")
    paused = body.get("paused", False)
    if not isinstance(paused, bool):
        raise DefinitionsFileError(f"{where}: paused must be true or false")
    action = Action(
        action_kind,
        title=_text(body, "title", where, ""),
        note=_text(body, "note", where, ""),
        due_in_days=due,
        assignee=_text(body, "assignee", where, ""),
        tag=_text(body, "tag", where, ""),
        subject=_text(body, "subject", where, ""),
        body=_text(body, "body", where, ""),
    )
    try:
        return validate_rule(AutomationRule(name.strip(), when, target, action, paused))
    except AutomationError as error:
        raise DefinitionsFileError(str(error)) from None


def _text(body: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if value is None:
        raise DefinitionsFileError(f"{where}: {key} is required")
    if not isinstance(value, str):
        raise DefinitionsFileError(f"{where}: {key} must be text")
    return value


def _render_automation(rule: AutomationRule) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": rule.name, "when": rule.when.value}
    if rule.target.kind is TargetKind.SEGMENT:
        entry["segment"] = rule.target.segment
    else:
        entry["strategy"] = rule.target.strategy
        entry["tier"] = rule.target.tier
    action = rule.action
    entry["action"] = action.kind.value
    if action.kind is ActionKind.CREATE_TASK:
        entry["title"] = action.title
        entry["due_in_days"] = action.due_in_days
        if action.note:
            entry["note"] = action.note
        if action.assignee:
            entry["assignee"] = action.assignee
    elif action.kind is ActionKind.PREPARE_EMAIL:
        entry["subject"] = action.subject
        entry["body"] = action.body
    else:
        entry["tag"] = action.tag
    if rule.paused:
        entry["paused"] = True
    return entry


def render_definitions(definitions: Definitions) -> str:
    """The definitions as TOML text in the SPEC's format (limits as strings, in major units)."""
    document: dict[str, Any] = {}
    if definitions.settings is not None:
        s = definitions.settings
        document["settings"] = {
            "max_months": s.segmentation.max_months,
            "buffer_months": s.segmentation.buffer_months,
            "nightly_enabled": s.nightly_enabled,
            "nightly_time": s.nightly_time.strftime("%H:%M"),
        }
    if definitions.strategies:
        document["strategies"] = {
            strategy.kind.value: {
                "active": strategy.active,
                "tiers": [
                    {"name": tier.name, "monthly_lower": format_plain(tier.monthly_lower)}
                    for tier in strategy.tiers
                ],
            }
            for strategy in definitions.strategies
        }
    if definitions.segments:
        segments = []
        for definition in definitions.segments:
            criteria = []
            for parsed in validate_definition(definition):
                source = parsed.source
                item: dict[str, str] = {
                    "field": source.field.value,
                    "operator": source.operator.value,
                }
                if source.value is not None:
                    item["value"] = source.value
                criteria.append(item)
            entry: dict[str, Any] = {"name": definition.name}
            if definition.description:
                entry["description"] = definition.description
            entry["match"] = definition.match.value
            entry["criteria"] = criteria
            segments.append(entry)
        document["segments"] = segments
    if definitions.automations:
        document["automations"] = [_render_automation(rule) for rule in definitions.automations]
    return tomli_w.dumps(document, multiline_strings=False)


def write_definitions(path: Path, definitions: Definitions) -> None:
    """Write the definitions file atomically."""
    text = render_definitions(definitions)
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
