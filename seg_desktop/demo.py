"""A realistic, seeded demo office: heavy-tailed revenue, refunds, tags, families and employers."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from seg_desktop.core.periods import month_first_day, month_key
from seg_desktop.store.changes import Changes
from seg_desktop.store.office import Office
from seg_desktop.store.records import NewClient, NewRevenue

_FIRST = [
    "Ada",
    "Alan",
    "Bea",
    "Carl",
    "Dana",
    "Emil",
    "Eva",
    "Finn",
    "Gail",
    "Hugo",
    "Ida",
    "Ivan",
    "Jana",
    "Karl",
    "Lena",
    "Liam",
    "Mia",
    "Nils",
    "Olga",
    "Omar",
    "Pia",
    "Rosa",
    "Sam",
    "Tara",
    "Ugo",
    "Vera",
    "Wim",
    "Xena",
    "Yara",
    "Zoë",
    "Ana",
    "Ben",
    "Chloé",
    "Dirk",
    "Elif",
    "Ines",
    "Jörg",
    "Kai",
    "Luz",
]
_LAST = [
    "Ames",
    "Baker",
    "Cruz",
    "Dahl",
    "Eng",
    "Fox",
    "Grant",
    "Hale",
    "Ito",
    "Jung",
    "Kahn",
    "Lund",
    "Moss",
    "Nash",
    "Ortiz",
    "Park",
    "Quinn",
    "Reyes",
    "Stone",
    "Tan",
    "Ueda",
    "Vance",
    "Wolfe",
    "Young",
    "Zell",
    "Brandt",
    "Costa",
    "Müller",
    "Novak",
    "Okafor",
    "Petrov",
    "Silva",
    "Weber",
]
_COMPANY = [
    "Northwind",
    "Bluebird",
    "Harbor",
    "Summit",
    "Cedar",
    "Granite",
    "Lumen",
    "Atlas",
    "Meridian",
    "Orchard",
    "Pioneer",
    "Quarry",
    "Riverside",
    "Sterling",
    "Tandem",
    "Vantage",
    "Willow",
    "Zenith",
    "Beacon",
    "Copper",
    "Delta",
    "Ember",
    "Falcon",
    "Juniper",
]
_SUFFIX = ["Ltd", "LLC", "GmbH", "& Co", "Partners", "Group", "Holdings", "Studio"]
_TAGS = ["vip", "retail", "wholesale", "newsletter", "referral", "north", "south", "east", "west"]
_STATUSES = ["active", "active", "active", "active", "active", "active", "prospect", "lost", "lost"]


@dataclass(frozen=True)
class DemoSummary:
    """What the demo created."""

    clients: int
    revenue_records: int
    groups: int
    first_date: dt.date
    last_date: dt.date
    changes: Changes = field(default_factory=Changes)
    """What loading the demo changed in the office."""


def _names(rng: np.random.Generator, count: int) -> list[str]:
    names = []
    is_company = rng.random(count) < 0.45
    first = rng.integers(0, len(_FIRST), count)
    last = rng.integers(0, len(_LAST), count)
    company = rng.integers(0, len(_COMPANY), count)
    suffix = rng.integers(0, len(_SUFFIX), count)
    for i in range(count):
        if is_company[i]:
            names.append(f"{_COMPANY[company[i]]} {_LAST[last[i]]} {_SUFFIX[suffix[i]]}")
        else:
            names.append(f"{_FIRST[first[i]]} {_LAST[last[i]]}")
    return names


def generate(
    clients: int = 2_000, months: int = 36, seed: int = 7, today: dt.date | None = None
) -> tuple[list[NewClient], dict[str, str], Callable[[dict[str, int]], Iterator[NewRevenue]]]:
    """The demo's clients, its groups (name -> kind), and a generator of its revenue.

    Revenue covers `months` calendar months ending with the month before
    `today`. The same seed (and today) always gives the same office.
    """
    if clients < 1 or months < 1:
        raise ValueError("the demo needs at least one client and one month")
    rng = np.random.default_rng(seed)
    end_month = month_key(today or dt.date.today()) - 1
    start_month = end_month - months + 1
    names = _names(rng, clients)
    statuses = rng.integers(0, len(_STATUSES), clients)
    tag_draws = rng.random((clients, len(_TAGS))) < np.array(
        [0.05, 0.3, 0.15, 0.4, 0.1, 0.2, 0.2, 0.15, 0.15]
    )
    refs = [f"C{i + 1:06d}" for i in range(clients)]

    # Groups: families of 2-4 and employers of 3-15 drawn from a shuffled client list.
    order = rng.permutation(clients)
    groups_of: dict[int, list[str]] = {}
    group_kinds: dict[str, str] = {}
    cursor = 0
    family_target = int(clients * 0.2)
    while cursor < family_target:
        size = int(rng.integers(2, 5))
        name = f"{_LAST[int(rng.integers(0, len(_LAST)))]} family {len(group_kinds) + 1}"
        group_kinds[name] = "family"
        for member in order[cursor : cursor + size]:
            groups_of.setdefault(int(member), []).append(name)
        cursor += size
    employer_pool = rng.permutation(clients)[: int(clients * 0.15)]
    cursor = 0
    while cursor < len(employer_pool):
        size = int(rng.integers(3, 16))
        name = f"{_COMPANY[int(rng.integers(0, len(_COMPANY)))]} staff {len(group_kinds) + 1}"
        group_kinds[name] = "employer"
        for member in employer_pool[cursor : cursor + size]:
            groups_of.setdefault(int(member), []).append(name)
        cursor += size

    new_clients = [
        NewClient(
            ref=refs[i],
            name=names[i],
            email=(
                None
                if rng.random() < 0.04
                else f"{names[i].split()[0].lower()}.{refs[i].lower()}@example.com"
            ),
            status=_STATUSES[statuses[i]],
            tags=frozenset(_TAGS[t] for t in np.flatnonzero(tag_draws[i])),
            groups=tuple(groups_of.get(i, ())),
        )
        for i in range(clients)
    ]

    # Heavy-tailed monthly revenue (log-normal), each client active over a span of months.
    monthly_level = rng.lognormal(mean=6.4, sigma=1.25, size=clients)
    no_revenue = rng.random(clients) < 0.05
    starts = np.where(
        rng.random(clients) < 0.75, start_month, rng.integers(start_month, end_month + 1, clients)
    )
    lapsed = rng.random(clients) < 0.12
    stops = np.where(lapsed, rng.integers(start_month, end_month + 1, clients), end_month)
    stops = np.maximum(stops, starts)
    revenue_seed = int(rng.integers(0, 2**31))

    def revenue(ids: dict[str, int]) -> Iterator[NewRevenue]:
        local = np.random.default_rng(revenue_seed)
        invoice_number = 100_000
        for i in range(clients):
            if no_revenue[i]:
                continue
            client_id = ids[refs[i]]
            span = np.arange(starts[i], stops[i] + 1)
            counts = local.poisson(2.6, size=len(span)) * (local.random(len(span)) < 0.93)
            total_lines = int(counts.sum())
            if not total_lines:
                continue
            amounts = local.lognormal(np.log(monthly_level[i] / 2.6), 0.6, total_lines)
            refunds = local.random(total_lines) < 0.015
            days = local.random(total_lines)
            line = 0
            for month, count in zip(span, counts, strict=True):
                first = month_first_day(int(month))
                length = calendar.monthrange(first.year, first.month)[1]
                for _ in range(int(count)):
                    cents = max(int(amounts[line] * 100), 1)
                    if refunds[line]:
                        cents = -cents // 3 or -1
                    invoice_number += 1
                    yield NewRevenue(
                        client_id,
                        first + dt.timedelta(days=int(days[line] * length)),
                        cents,
                        f"INV-{invoice_number}",
                    )
                    line += 1

    return new_clients, group_kinds, revenue


def load_demo(
    office: Office,
    clients: int = 2_000,
    months: int = 36,
    seed: int = 7,
    progress: Callable[[float, str], None] | None = None,
) -> DemoSummary:
    """Fill an empty office with the demo, in one transaction (all of it or nothing)."""
    report = progress or (lambda _f, _m: None)
    new_clients, group_kinds, revenue = generate(clients, months, seed)
    filled = office.fill_empty(group_kinds, new_clients, revenue, report)
    records, first, last = filled.records, filled.first_date, filled.last_date
    report(1.0, "Demo office ready")
    return DemoSummary(
        clients=clients,
        revenue_records=records,
        groups=len(group_kinds),
        first_date=first or dt.date.today(),
        last_date=last or dt.date.today(),
        changes=filled.changes,
    )
