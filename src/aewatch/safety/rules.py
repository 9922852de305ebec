"""Stopping-rule definitions: which events count, over which window, against which boundary.

A rule is declared in the trial config as a ``[[stopping_rule]]`` table (declarative
fields, no expression language; DESIGN.md "Configuration"). ``parse_rule`` checks every
key and names the offending one in its error, because a silently ignored typo in a
safety rule is a rule that never fires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aewatch.safety.relatedness import RELATED, RELATIONS

if TYPE_CHECKING:
    import pandas as pd

    from aewatch.safety.boundaries import Boundary

ATTRIBUTION_TO = ("rt", "systemic", "either", "both")
MISSING_ATTRIBUTION = ("related", "unrelated")
EVALUABILITY = ("exclude", "include")

_COMMON_KEYS = (
    "name",
    "description",
    "min_grade",
    "attribution",
    "attribution_to",
    "missing_attribution",
    "terms",
    "socs",
    "derived",
    "site_reported",
    "serious_only",
    "window_days",
    "evaluability",
    "approaching_margin",
    "method",
    "n_max",
    "p0",
    "p1",
)
_METHOD_KEYS = {
    "pocock": ("alpha", "every", "first_look", "looks"),
    "obf": ("alpha", "every", "first_look", "looks"),
    "bayes": ("prior", "p_max", "threshold", "every", "min_n"),
    "fixed": ("k", "m", "every"),
}
_ALL_KEYS = frozenset(_COMMON_KEYS) | {k for keys in _METHOD_KEYS.values() for k in keys}


@dataclass(frozen=True)
class StoppingRule:
    """One toxicity stopping rule of the trial (stopping_rules.md; DESIGN.md config).

    Event selection: a *site-reported* event (``derived`` empty) counts when its grade is
    >= ``min_grade``, its attribution (to ``attribution_to``) is in ``attribution``, its
    term/SOC is listed (empty = any) and, if ``serious_only``, it is serious. A *derived*
    event (e.g. "RILD (non-classic)" computed from labs) counts only when its name is in
    ``derived``; the derivation itself defines it, so grade and attribution filters do
    not apply. A missing attribution counts as related by default (relatedness not ruled
    out, as in the alert rules; set ``missing_attribution = "unrelated"`` to change).
    """

    name: str
    method: str
    n_max: int
    window_days: int
    description: str = ""
    min_grade: int = 3
    attribution: tuple[str, ...] = RELATED
    attribution_to: str = "rt"
    missing_attribution: str = "related"
    terms: tuple[str, ...] = ()
    socs: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()
    site_reported: bool = True
    serious_only: bool = False
    evaluability: str = "exclude"
    approaching_margin: int = 1
    p0: float | None = None
    p1: float | None = None
    alpha: float | None = None
    every: int = 1
    first_look: int | None = None
    looks: tuple[int, ...] | None = None
    prior: tuple[float, float] | None = None
    p_max: float | None = None
    threshold: float | None = None
    min_n: int = 1
    k: tuple[int, ...] | None = None
    m: tuple[int, ...] | None = None

    def design(self) -> dict[str, Any]:
        """The parameters ``make_boundary`` takes for this rule's method."""
        values: dict[str, Any] = {"n_max": self.n_max, "every": self.every}
        if self.method in ("pocock", "obf"):
            values.update(
                p0=self.p0,
                p1=self.p1,
                alpha=self.alpha,
                first_look=self.first_look,
                looks=self.looks,
            )
        elif self.method == "bayes":
            values.update(
                p_max=self.p_max, threshold=self.threshold, prior=self.prior, min_n=self.min_n
            )
        else:
            values.update(k=self.k, m=self.m)
        return values

    def boundary(self) -> Boundary:
        """The integer table for this rule, computed once per distinct design (per process;
        ``check_boundaries`` with a cache folder also keeps it across processes)."""
        return _boundary(self.method, self.design_key())

    def design_key(self) -> tuple[tuple[str, Any], ...]:
        """The design as a hashable key: what the boundary depends on, and nothing else."""
        return tuple(sorted(self.design().items()))

    def reference_rates(self) -> tuple[float, ...]:
        """p0 and p1 where given: the rates the OC tables must show."""
        return tuple(p for p in (self.p0, self.p1) if p is not None)

    def matches_events(self, events: pd.DataFrame) -> pd.Series:
        """Boolean Series: which rows of an events DataFrame count toward this rule.

        Vectorised; the onset window is applied in ``evaluation`` (it needs RT dates).
        """
        import pandas as pd

        missing = [c for c in EVENT_COLUMNS if c not in events.columns]
        if missing:
            raise ValueError(f"events: missing column(s) {missing}")
        index = events.index
        raw = events["derived"] if "derived" in events.columns else pd.Series(None, index=index)
        names = raw.astype("string").str.strip()
        is_derived = (names.notna() & names.ne("")).fillna(False).astype(bool)
        derived_hit = is_derived & names.isin(list(self.derived)).fillna(False).astype(bool)
        if not self.site_reported:
            return derived_hit.rename(self.name)
        grade = pd.to_numeric(events["grade"], errors="coerce")
        hit = (grade >= self.min_grade).fillna(False).astype(bool) & ~is_derived
        hit &= self._attributed(events)
        if self.terms:
            hit &= _in_casefolded(events["ctcae_term"], self.terms)
        if self.socs:
            hit &= _in_casefolded(events["ctcae_soc"], self.socs)
        if self.serious_only:
            hit &= events["serious"].astype("boolean").fillna(False).astype(bool)
        return (hit | derived_hit).rename(self.name)

    def matches_event(self, event: Mapping[str, Any]) -> bool:
        """``matches_events`` for one event given as a mapping of the same columns (a test
        checks that the two agree); used where pandas is not loaded (`aewatch status`)."""
        name = _text(event.get("derived"))
        is_derived = bool(name)
        if not self.site_reported or is_derived:
            return is_derived and name in self.derived
        grade = _number(event.get("grade"))
        if grade is None or grade < self.min_grade:
            return False
        if not self._attributed_one(event):
            return False
        if self.terms and _text(event.get("ctcae_term")).casefold() not in _folded(self.terms):
            return False
        if self.socs and _text(event.get("ctcae_soc")).casefold() not in _folded(self.socs):
            return False
        return not (self.serious_only and not _flag(event.get("serious")))

    def _attributed_one(self, event: Mapping[str, Any]) -> bool:
        def related(column: str) -> bool:
            word = _text(event.get(column)).lower()
            if word in self.attribution:
                return True
            return self.missing_attribution == "related" and word not in RELATIONS

        if self.attribution_to == "rt":
            return related("rt_relation")
        if self.attribution_to == "systemic":
            return related("systemic_relation")
        if self.attribution_to == "either":
            return related("rt_relation") or related("systemic_relation")
        return related("rt_relation") and related("systemic_relation")

    def _attributed(self, events: pd.DataFrame) -> pd.Series:
        def related(column: str) -> pd.Series:
            words = events[column].astype("string").str.strip().str.lower()
            known = words.isin(RELATIONS).fillna(False).astype(bool)
            hit = words.isin(self.attribution).fillna(False).astype(bool)
            if self.missing_attribution == "related":
                hit |= ~known
            return hit

        if self.attribution_to == "rt":
            return related("rt_relation")
        if self.attribution_to == "systemic":
            return related("systemic_relation")
        if self.attribution_to == "either":
            return related("rt_relation") | related("systemic_relation")
        return related("rt_relation") & related("systemic_relation")


EVENT_COLUMNS = (
    "subject_id",
    "onset",
    "grade",
    "ctcae_term",
    "ctcae_soc",
    "rt_relation",
    "systemic_relation",
    "serious",
)


def lowest_counted_grade(rules: Sequence[StoppingRule]) -> int:
    """The lowest grade a site-reported rule counts (6: none does). An event below it counts
    for no rule, so the ingest transaction and `aewatch status` leave it unread."""
    return min((rule.min_grade for rule in rules if rule.site_reported), default=6)


def _text(value: Any) -> str:
    """A cell as stripped text; missing (None, NaN, NA) as ""."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    try:
        if value != value:  # pandas NA / NaT
            return ""
    except (TypeError, ValueError):
        return ""
    return str(value).strip()


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _flag(value: Any) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return False
    return bool(value)


def _folded(allowed: Sequence[str]) -> set[str]:
    return {a.casefold() for a in allowed}


def _in_casefolded(column: pd.Series, allowed: Sequence[str]) -> pd.Series:
    wanted = [a.casefold() for a in allowed]
    return (
        column.astype("string").str.strip().str.casefold().isin(wanted).fillna(False).astype(bool)
    )


_BUILT: dict[tuple[str, tuple[tuple[str, Any], ...]], Boundary] = {}


def _boundary(
    method: str, design: tuple[tuple[str, Any], ...], cache: Path | None = None, write: bool = False
) -> Boundary:
    """The boundary of a design: from this process's memo, else the cache folder, else built
    (and filed in the cache folder when ``write``)."""
    found = _BUILT.get((method, design))
    if found is not None:
        return found
    from aewatch.safety import boundary_cache

    found = boundary_cache.load(cache, method, design) if cache is not None else None
    if found is None:
        from aewatch.safety.boundaries import make_boundary

        found = make_boundary(method, **dict(design))
        if cache is not None and write:
            try:
                boundary_cache.store(cache, method, design, found)
            except OSError as exc:  # a read-only data folder only costs the rebuild
                import logging

                logging.getLogger("aewatch.boundaries").warning(
                    "cannot cache boundary in %s: %s", cache, exc
                )
    _BUILT[(method, design)] = found
    return found


# ------------------------------------------------------------------------------ parsing


def parse_rule(
    table: Mapping[str, Any],
    where: str = "stopping_rule",
    n_max: int | None = None,
    *,
    build: bool = True,
) -> StoppingRule:
    """Build a StoppingRule from one TOML table; ``n_max`` defaults to planned enrolment.

    ``build=False`` checks keys and values but leaves building the boundary for first use;
    the daemon builds every boundary at start-up (``check_boundaries``) so a bad design
    still fails before any data is read.

    Raises ValueError naming the key, e.g.
    "stopping_rule[0].p0: expected a number between 0 and 1, got 'high'".
    """
    from aewatch.safety.methods import canonical_method

    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table, got {table!r}")
    read = _Reader(table, where)
    unknown = sorted(set(table) - _ALL_KEYS)
    if unknown:
        raise ValueError(
            f"{where}.{unknown[0]}: unknown key; expected one of {', '.join(sorted(_ALL_KEYS))}"
        )
    raw_method = read.text("method", required=True)
    try:
        method = canonical_method(raw_method)
    except ValueError:
        raise ValueError(
            f"{where}.method: expected one of pocock, obf, bayes, fixed, got {raw_method!r}"
        ) from None
    foreign = sorted(set(table) - set(_COMMON_KEYS) - set(_METHOD_KEYS[method]))
    if foreign:
        raise ValueError(
            f"{where}.{foreign[0]}: not used by method {method!r} "
            f"(it takes {', '.join(_METHOD_KEYS[method])})"
        )
    planned = read.integer("n_max", minimum=1, default=n_max)
    if planned is None:
        raise ValueError(
            f"{where}.n_max: expected an integer >= 1 (or the trial's planned enrolment)"
        )
    rule = StoppingRule(
        name=read.text("name", required=True),
        description=read.text("description", default=""),
        method=method,
        n_max=planned,
        window_days=read.integer("window_days", minimum=1, required=True),
        min_grade=read.integer("min_grade", minimum=1, maximum=5, default=3),
        attribution=read.choices("attribution", RELATIONS, default=RELATED),
        attribution_to=read.choice("attribution_to", ATTRIBUTION_TO, default="rt"),
        missing_attribution=read.choice(
            "missing_attribution", MISSING_ATTRIBUTION, default="related"
        ),
        terms=read.strings("terms"),
        socs=read.strings("socs"),
        derived=read.strings("derived"),
        site_reported=read.boolean("site_reported", default=True),
        serious_only=read.boolean("serious_only", default=False),
        evaluability=read.choice("evaluability", EVALUABILITY, default="exclude"),
        approaching_margin=read.integer("approaching_margin", minimum=0, default=1),
        p0=read.rate("p0", required=method in ("pocock", "obf")),
        p1=read.rate("p1", required=method in ("pocock", "obf")),
        alpha=read.rate("alpha", required=method in ("pocock", "obf")),
        every=read.integer("every", minimum=1, default=1),
        first_look=read.integer("first_look", minimum=1),
        looks=read.integers("looks"),
        prior=read.prior("prior", required=method == "bayes"),
        p_max=read.rate("p_max", required=method == "bayes"),
        threshold=read.rate("threshold", required=method == "bayes"),
        min_n=read.integer("min_n", minimum=1, default=1),
        k=read.integers("k", required=method == "fixed"),
        m=read.integers("m"),
    )
    if rule.p0 is not None and rule.p1 is not None and rule.p1 <= rule.p0:
        raise ValueError(f"{where}.p1: expected a rate above p0={rule.p0}, got {rule.p1!r}")
    if rule.looks is not None and ("every" in table or "first_look" in table):
        raise ValueError(f"{where}.looks: give either looks or every/first_look, not both")
    if not rule.site_reported and not rule.derived:
        raise ValueError(f"{where}.derived: site_reported = false needs derived syndrome names")
    if build:
        check_boundaries([rule], [where])
    return rule


def check_boundaries(
    rules: Sequence[StoppingRule],
    where: Sequence[str] | None = None,
    *,
    cache: Path | None = None,
    write: bool = False,
) -> None:
    """Build (or read from ``cache``) each rule's boundary now; a design that cannot be
    built names its rule. The daemon passes ``write=True`` so that it files what it built;
    read-only commands only read the folder."""
    for index, rule in enumerate(rules):
        try:
            _boundary(rule.method, rule.design_key(), cache, write)
        except (ValueError, KeyError) as exc:
            label = where[index] if where else f"stopping_rule {rule.name!r}"
            raise ValueError(f"{label}: {exc}") from exc


class _Reader:
    """Typed access to one TOML table with errors that name the key and the expectation."""

    def __init__(self, table: Mapping[str, Any], where: str) -> None:
        self.table = table
        self.where = where

    def _fail(self, key: str, expected: str) -> ValueError:
        return ValueError(f"{self.where}.{key}: expected {expected}, got {self.table[key]!r}")

    def _missing(self, key: str, expected: str) -> ValueError:
        return ValueError(f"{self.where}.{key}: required; expected {expected}")

    def text(self, key: str, required: bool = False, default: str = "") -> str:
        if key not in self.table:
            if required:
                raise self._missing(key, "a non-empty string")
            return default
        value = self.table[key]
        if not isinstance(value, str) or (required and not value.strip()):
            raise self._fail(key, "a non-empty string" if required else "a string")
        return value.strip()

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def integer(
        self,
        key: str,
        minimum: int,
        maximum: int | None = None,
        default: int | None = None,
        required: bool = False,
    ) -> Any:
        expected = (
            f"an integer >= {minimum}"
            if maximum is None
            else (f"an integer from {minimum} to {maximum}")
        )
        if key not in self.table:
            if required:
                raise self._missing(key, expected)
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, expected)
        if value < minimum or (maximum is not None and value > maximum):
            raise self._fail(key, expected)
        return value

    def integers(self, key: str, required: bool = False) -> tuple[int, ...] | None:
        if key not in self.table:
            if required:
                raise self._missing(key, "an integer >= 1 or a list of them")
            return None
        value = self.table[key]
        items = value if isinstance(value, list) else [value]
        if not items or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in items):
            raise self._fail(key, "an integer >= 1 or a list of them")
        return tuple(items)

    def rate(self, key: str, required: bool = False) -> float | None:
        expected = "a number between 0 and 1"
        if key not in self.table:
            if required:
                raise self._missing(key, expected)
            return None
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, expected)
        if not 0.0 < float(value) < 1.0:
            raise self._fail(key, expected + " (exclusive)")
        return float(value)

    def prior(self, key: str, required: bool) -> tuple[float, float] | None:
        expected = "[a, b] with a > 0 and b > 0 (a Beta prior)"
        if key not in self.table:
            if required:
                raise self._missing(key, expected)
            return None
        value = self.table[key]
        if (
            not isinstance(value, list)
            or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, int | float) or v <= 0 for v in value)
        ):
            raise self._fail(key, expected)
        return (float(value[0]), float(value[1]))

    def choice(self, key: str, allowed: Sequence[str], default: str) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str) or value.strip().lower() not in allowed:
            raise self._fail(key, f"one of {', '.join(allowed)}")
        return value.strip().lower()

    def choices(self, key: str, allowed: Sequence[str], default: Sequence[str]) -> tuple[str, ...]:
        if key not in self.table:
            return tuple(default)
        value = self.table[key]
        expected = f"a non-empty list drawn from {', '.join(allowed)}"
        if not isinstance(value, list) or not value:
            raise self._fail(key, expected)
        words = []
        for item in value:
            if not isinstance(item, str) or item.strip().lower() not in allowed:
                raise self._fail(key, expected)
            words.append(item.strip().lower())
        return tuple(w for w in allowed if w in words)

    def strings(self, key: str) -> tuple[str, ...]:
        if key not in self.table:
            return ()
        value = self.table[key]
        if not isinstance(value, list) or any(
            not isinstance(v, str) or not v.strip() for v in value
        ):
            raise self._fail(key, "a list of non-empty strings")
        return tuple(v.strip() for v in value)
