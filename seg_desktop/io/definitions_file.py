"""The definitions file: settings, strategies and rule segments in one TOML file (SPEC 4)."""

from __future__ import annotations

import datetime as dt
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import tomli_w

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
from seg_desktop.store.definitions import OfficeSettings
from seg_desktop.store.office import Definitions


class DefinitionsFileError(ValueError):
    """A definitions file that cannot be applied; the message names the part and the reason."""


def read_definitions(path: Path, current: OfficeSettings | None = None) -> Definitions:
    """Parse and fully validate a definitions file (nothing is applied here)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DefinitionsFileError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise DefinitionsFileError(f"{path} is not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as error:
        raise DefinitionsFileError(f"{path} is not valid TOML: {error}") from None
    except OSError as error:
        raise DefinitionsFileError(f"cannot read {path}: {error.strerror}") from None
    return parse_definitions(raw, current)


def parse_definitions(raw: dict[str, Any], current: OfficeSettings | None = None) -> Definitions:
    """Turn the parsed TOML into Definitions, refusing anything invalid with a clear message."""
    unknown = set(raw) - {"settings", "strategies", "segments"}
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
    return Definitions(settings=settings, strategies=strategies, segments=segments)


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
    return tomli_w.dumps(document, multiline_strings=False)


def write_definitions(path: Path, definitions: Definitions) -> None:
    """Write the definitions file atomically."""
    text = render_definitions(definitions)
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
