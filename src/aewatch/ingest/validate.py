"""Column-wise validation of one domain table: typed values out, faults with reasons out.

Each check is a vectorised mask; a row with any fault is quarantined with every
reason found (one quarantine entry per field), and its good neighbours go on.
Reasons are written for the site's data manager: what is wrong and what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import sha256

import numpy as np
import pandas as pd

from aewatch.ingest.dates import parse_iso_dates, parse_iso_moments
from aewatch.ingest.numbers import INT32_MAX, not_whole, read_grades, read_numbers, whole_numbers
from aewatch.ingest.vocab import (
    DISPOSITION_CATEGORIES,
    DISPOSITION_EVENT,
    DISPOSITIONS,
    OLIGOPROGRESSION,
    OUTCOMES,
    RELATIONSHIP,
    UNITS,
    YES_NO,
)

REQUIRED: dict[str, tuple[str, ...]] = {
    "DM": ("USUBJID",),
    "AE": ("USUBJID", "AETERM"),
    "LB": ("USUBJID", "LBTESTCD", "LBDTC"),
    "EX": ("USUBJID", "EXSTDTC"),
    "DS": ("USUBJID", "DSDECOD", "DSSTDTC"),
}
SERIOUS_FLAGS = ("AESDTH", "AESLIFE", "AESHOSP", "AESDISAB", "AESCONG", "AESMIE")
# Longest value the database column behind each variable holds (models.py): a longer one
# is quarantined here rather than failing the whole file's insert on PostgreSQL.
MAX_LENGTH: dict[str, dict[str, int]] = {
    "DM": {"SITEID": 64, "FLSTTRT": 120, "ARM": 120},
    # AESPID: 64, so that an alert's dedup key (trial, subject, AE id, version) fits in 200.
    "AE": {"AESPID": 64, "AEDECOD": 200, "AEBODSYS": 200, "AEACN": 64},
    "LB": {"LBTESTCD": 16, "LBTEST": 120, "LBSTRESU": 32, "LBDTC": 32},
    "EX": {"EXSPID": 120, "EXLNKID": 120, "EXTRT": 120, "EXLOC": 120},
    # The record's key (DSCAT|DSDECOD|EPOCH) fits in 200; the decoded term in 200.
    "DS": {"DSCAT": 64, "DSDECOD": 100, "EPOCH": 32},
}
# DM dates and the variables that give them, first found wins (RFSTDTC is enrolment,
# else consent, else first treatment; the baseline reference is first treatment).
DM_DATES: dict[str, tuple[str, ...]] = {
    "enrolled_on": ("RFSTDTC", "RFICDTC", "RFXSTDTC"),
    "reference_start": ("RFXSTDTC", "RFSTDTC"),
    "reference_end": ("RFXENDTC",),
    "died_on": ("DTHDTC",),
    "withdrawn_on": ("WITHDTC",),
}
# The typed column that identifies a record of each domain across exports (DM: the subject).
RECORD_KEY_COLUMNS = {"AE": "ae_key", "LB": "lab_key", "EX": "record_key", "DS": "event_key"}
SEVERITIES = {"MILD", "MODERATE", "SEVERE"}
SEXES = {"M", "F", "U", "UNDIFFERENTIATED"}


@dataclass
class Fault:
    row: int | None  # 1-based data row
    field: str | None
    value: str | None
    reason: str
    kind: str = "rejected"  # rejected | query (a query keeps the row)
    subject: str | None = None
    key: str | None = None  # the record's identity (AESPID, lab test + time …), if known


@dataclass(frozen=True)
class Normalised:
    """A value read as something other than what was written (AETOXGR 'III' → 3): kept
    in the audit trail so the site's spelling is never silently lost."""

    row: int
    field: str
    written: str
    read_as: str
    subject: str | None = None


@dataclass
class Checked:
    """A validated table: ``frame`` holds only the rows that passed, typed."""

    domain: str
    frame: pd.DataFrame
    faults: list[Fault] = field(default_factory=list)
    rows: int = 0
    columns: frozenset[str] = frozenset()  # the variables the file actually carried
    # Each date variable read, parsed (date, precision, text), aligned with ``frame``.
    dates: dict[str, pd.DataFrame] = field(default_factory=dict)
    normalised: list[Normalised] = field(default_factory=list)


class _Checker:
    def __init__(self, domain: str, frame: pd.DataFrame) -> None:
        self.domain = domain
        self.frame = frame
        self.bad = pd.Series(False, index=frame.index)
        self.faults: list[Fault] = []
        self.dates: dict[str, pd.DataFrame] = {}
        self.normalised: list[Normalised] = []

    def col(self, name: str) -> pd.Series:
        if name in self.frame.columns:
            return self.frame[name].astype("str")
        return pd.Series("", index=self.frame.index, dtype="str")

    def has(self, name: str) -> bool:
        return name in self.frame.columns

    def reject(
        self, mask: pd.Series, field: str | None, reason: str, kind: str = "rejected"
    ) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        values = self.col(field) if field else pd.Series("", index=self.frame.index)
        rows = self.frame.loc[mask, "ROW"].to_numpy()
        subjects = self.col("USUBJID")[mask].to_numpy()
        for row, value, subject in zip(rows, values[mask].to_numpy(), subjects, strict=True):
            self.faults.append(
                Fault(int(row), field, value or None, reason.format(v=value), kind, subject or None)
            )
        if kind == "rejected":
            self.bad |= mask

    def required(self, names: tuple[str, ...]) -> None:
        for name in names:
            if not self.has(name):
                self.reject(
                    pd.Series(True, index=self.frame.index),
                    name,
                    f"required variable {name} is missing from the {self.domain} file: "
                    "add the column (or map the site's header to it in the config)",
                )
            else:
                self.reject(
                    self.col(name) == "",
                    name,
                    f"{name} is empty: every {self.domain} record needs it",
                )

    def date(self, name: str, label: str) -> pd.DataFrame:
        text = self.col(name)
        parsed = parse_iso_dates(text)
        self.reject(
            parsed["invalid"],
            name,
            f"{label} '{{v}}' is not an ISO 8601 date (use YYYY-MM-DD, YYYY-MM or YYYY)",
        )
        if self.has(name):
            self.dates[name] = parsed.assign(text=text)
        return parsed

    def moment(self, name: str, label: str) -> pd.DataFrame:
        """A date that may carry a time and a UTC offset (``parse_iso_moments``)."""
        text = self.col(name)
        parsed = parse_iso_moments(text)
        self.reject(
            parsed["invalid"],
            name,
            f"{label} '{{v}}' is not an ISO 8601 date or date and time (use "
            "YYYY-MM-DDThh:mm, with the UTC offset if known, e.g. +08:00, or YYYY-MM-DD)",
        )
        if self.has(name):
            self.dates[name] = parsed.assign(text=text)
        return parsed

    def number(
        self,
        name: str,
        label: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        finite: bool = True,
    ) -> pd.Series:
        """A measured number; ``finite=False`` lets inf/nan through for plausibility to
        flag (the row is kept), otherwise they are rejected here."""
        numbers = read_numbers(self.col(name))
        self.reject(numbers.not_number, name, f"{label} '{{v}}' is not a number")
        if finite:
            self.reject(numbers.not_finite, name, f"{label} '{{v}}' is not a finite number")
        values = numbers.values if not finite else numbers.finite
        if minimum is not None:
            self.reject(values < minimum, name, f"{label} '{{v}}' is below {minimum:g}")
        if maximum is not None:
            self.reject(
                values > maximum,
                name,
                f"{label} '{{v}}' is too large to compute with (above {maximum:g})",
            )
        return values

    def whole(self, name: str, label: str, *, minimum: int = 0) -> pd.Series:
        """An identity or count field (AESEQ, EXNFRAC …): a whole number in the range the
        database holds, as Int64; anything else rejects the row with its reason."""
        numbers = read_numbers(self.col(name))
        values = numbers.finite
        self.reject(numbers.not_number, name, f"{label} '{{v}}' is not a number")
        self.reject(numbers.not_finite, name, f"{label} '{{v}}' is not a finite number")
        self.reject(not_whole(values), name, f"{label} '{{v}}' is not a whole number")
        self.reject(values < minimum, name, f"{label} '{{v}}' is below {minimum}")
        self.reject(values > INT32_MAX, name, f"{label} '{{v}}' is too large (at most {INT32_MAX})")
        return whole_numbers(values, minimum, INT32_MAX)

    def grade(self, name: str, low: int, high: int, reason: str) -> pd.Series:
        """A CTCAE grade as sites write it ('3', '3.0', 'III', 'Grade 3', 'G3'); other
        spellings than plain digits are noted in the audit trail."""
        text = self.col(name)
        grades = read_grades(text, low, high)
        self.reject(grades.invalid, name, reason)
        rewritten = grades.rewritten & ~self.bad
        if rewritten.any():
            for label in rewritten.index[rewritten.to_numpy(dtype=bool)]:
                self.normalised.append(
                    Normalised(
                        int(self.frame.at[label, "ROW"]),
                        name,
                        str(text[label]),
                        str(grades.grade[label]),
                        self.col("USUBJID")[label] or None,
                    )
                )
        return grades.grade

    def lengths(self, limits: dict[str, int]) -> None:
        for name, limit in limits.items():
            if self.has(name) and max(map(len, pd.unique(self.col(name))), default=0) > limit:
                self.reject(
                    self.col(name).str.len() > limit,
                    name,
                    f"{name} is longer than {limit} characters: shorten it (is it the right "
                    "column?)",
                )

    def vocabulary(self, name: str, mapping: dict[str, str], hint: str) -> pd.Series:
        text = self.col(name)
        mapped = text.str.upper().map(mapping)
        self.reject((text != "") & mapped.isna(), name, f"{name} '{{v}}' is not recognised: {hint}")
        return mapped

    def result(self, typed: pd.DataFrame, keys: pd.Series | None = None) -> Checked:
        """The good rows; each fault learns its record's identity (for superseding it
        when a corrected re-export arrives)."""
        keep = ~self.bad
        kept_rows = set(self.frame.loc[keep, "ROW"].tolist())
        if keys is not None:
            by_row = dict(zip(self.frame["ROW"].to_numpy(), keys.to_numpy(), strict=True))
            for fault in self.faults:
                key = by_row.get(fault.row)
                fault.key = key if isinstance(key, str) and key else None
        return Checked(
            self.domain,
            typed.loc[keep].reset_index(drop=True),
            self.faults,
            rows=len(self.frame),
            columns=frozenset(self.frame.columns),
            dates={
                name: parsed.loc[keep].reset_index(drop=True) for name, parsed in self.dates.items()
            },
            normalised=[n for n in self.normalised if n.row in kept_rows],
        )


def check_table(domain: str, frame: pd.DataFrame, accepted_studies: tuple[str, ...]) -> Checked:
    checker = _Checker(domain, frame)
    checker.required(REQUIRED[domain])
    checker.reject(
        checker.col("USUBJID").str.len() > 64,
        "USUBJID",
        "USUBJID is longer than 64 characters: is this really a subject ID?",
    )
    if accepted_studies and checker.has("STUDYID"):
        study = checker.col("STUDYID")
        allowed = {s.upper() for s in accepted_studies}
        checker.reject(
            (study != "") & ~study.str.upper().isin(allowed),
            "STUDYID",
            "STUDYID '{v}' is not accepted for this trial (accepted: "
            + ", ".join(accepted_studies)
            + "): add it to [trial].studies if the export belongs here",
        )
    checker.reject(
        checker.col("STUDYID").str.len() > 64,
        "STUDYID",
        "STUDYID is longer than 64 characters: is this really a study ID?",
    )
    checker.lengths(MAX_LENGTH[domain])
    _reject_duplicate_rows(checker)
    typed = {"DM": _dm, "AE": _ae, "LB": _lb, "EX": _ex, "DS": _ds}[domain](checker)
    typed["ROW"] = frame["ROW"].to_numpy()
    typed["USUBJID"] = checker.col("USUBJID").to_numpy()
    typed["STUDYID"] = checker.col("STUDYID").to_numpy()
    return checker.result(typed, record_keys(domain, typed))


def record_keys(domain: str, typed: pd.DataFrame) -> pd.Series:
    """Each row's record identity within its subject ("" where it has none)."""
    column = RECORD_KEY_COLUMNS.get(domain)
    if column is None:
        return pd.Series("DM", index=typed.index, dtype="object")
    keys = typed[column].astype("object").fillna("")
    return keys.where(~keys.isin(["SEQ:", "|"]), "")


def _reject_duplicate_rows(checker: _Checker) -> None:
    data_columns = [c for c in checker.frame.columns if c != "ROW"]
    duplicated = checker.frame.duplicated(subset=data_columns, keep="first")
    checker.reject(
        duplicated, None, "duplicate of an earlier row in the same file: remove the copy"
    )


DM_DATE_LABELS = {
    "RFXSTDTC": "first treatment date",
    "RFXENDTC": "last treatment date",
    "RFSTDTC": "reference start",
    "RFICDTC": "consent date",
    "DTHDTC": "death date",
    "WITHDTC": "withdrawal date",
}


def dm_dates(dates: dict[str, pd.Series], index: pd.Index) -> dict[str, pd.Series]:
    """The stored DM dates from their variables (``DM_DATES``: first found wins)."""
    empty = pd.Series(pd.NaT, index=index, dtype="datetime64[us]")
    out = {}
    for target, sources in DM_DATES.items():
        value = empty
        for source in reversed(sources):
            value = dates.get(source, empty).fillna(value) if source in dates else value
        out[target] = value
    return out


def _dm(c: _Checker) -> pd.DataFrame:
    parsed = {name: c.date(name, f"{label} {name}") for name, label in DM_DATE_LABELS.items()}
    rfx, rfxend = parsed["RFXSTDTC"], parsed["RFXENDTC"]
    oligo = c.vocabulary("OLIGOCAT", OLIGOPROGRESSION, "use metachronous, repeat or induced")
    sex = c.col("SEX").str.upper()
    c.reject((sex != "") & ~sex.isin(SEXES), "SEX", "SEX '{v}' is not M, F or U")
    c.reject(
        rfxend["date"] < rfx["date"],
        "RFXENDTC",
        "last treatment date RFXENDTC '{v}' is before RFXSTDTC",
    )
    dup = c.col("USUBJID").duplicated(keep="first") & (c.col("USUBJID") != "") & ~c.bad
    c.reject(dup, "USUBJID", "subject '{v}' appears twice in this DM file: keep one record")
    died_flag = c.vocabulary("DTHFL", YES_NO, "use Y or N")
    c.reject(
        died_flag.eq("Y") & parsed["DTHDTC"]["date"].isna(),
        "DTHDTC",
        "DTHFL is Y but DTHDTC is empty: give the date of death",
        kind="query",
    )
    stored = dm_dates({n: p["date"] for n, p in parsed.items() if c.has(n)}, c.frame.index)
    return pd.DataFrame(
        {
            "site": c.col("SITEID"),
            **stored,
            "death_flag": died_flag.map({"Y": True, "N": False}).astype("object"),
            "oligoprogression": oligo,
            "systemic_therapy": c.col("FLSTTRT").replace("", None),
            "sex": sex.replace("", None),
            "arm": c.col("ARM").replace("", None),
        }
    )


def _ae(c: _Checker) -> pd.DataFrame:
    grade = c.grade(
        "AETOXGR",
        1,
        5,
        "AETOXGR '{v}' is not a CTCAE grade: use the digits 1 to 5 (III, Grade 3 and G3 "
        "are read as 3)",
    )
    severity = c.col("AESEV").str.upper()
    c.reject(
        (severity != "") & ~severity.isin(SEVERITIES),
        "AESEV",
        "AESEV '{v}' is not MILD, MODERATE or SEVERE",
    )
    flags = {}
    for name in ("AESER", *SERIOUS_FLAGS):
        flags[name] = c.vocabulary(name, YES_NO, "use Y or N").eq("Y")
    any_criterion = np.logical_or.reduce([flags[f].to_numpy() for f in SERIOUS_FLAGS])
    any_criterion = pd.Series(any_criterion, index=c.frame.index)
    rel_hint = "use unrelated, unlikely, possible, probable or definite"
    rt_relation = c.vocabulary("AEREL", RELATIONSHIP, rel_hint)
    systemic_relation = c.vocabulary("AERELSYS", RELATIONSHIP, rel_hint)
    outcome = c.vocabulary("AEOUT", OUTCOMES, "use the SDTM OUT codelist (e.g. RECOVERED/RESOLVED)")
    start = c.date("AESTDTC", "onset date AESTDTC")
    end = c.date("AEENDTC", "end date AEENDTC")
    # The SAE clocks run from awareness: its time and offset are kept (docs/ingest.md).
    aware = c.moment("AEAWDTC", "awareness date AEAWDTC")
    c.reject(_before(end, start), "AEENDTC", "end date AEENDTC '{v}' is before the onset date")
    seq = c.whole("AESEQ", "AESEQ")
    spid = c.col("AESPID")
    c.reject(
        (spid == "") & seq.isna(),
        "AESPID",
        "no AE identifier: give AESPID (preferred) or AESEQ so re-exports update this AE",
    )
    return pd.DataFrame(
        {
            "ae_key": _ae_keys(c.col("USUBJID"), spid, seq, start["date"]),
            "aeseq": seq,
            "verbatim_term": c.col("AETERM"),
            "decoded_term": c.col("AEDECOD").replace("", None),
            "body_system": c.col("AEBODSYS").replace("", None),
            "reported_grade": grade,
            "severity": severity.replace("", None),
            # Death is a seriousness criterion whatever AESER says (ICH E2A): grade 5 and a
            # fatal outcome are serious; data_queries asks the site to confirm.
            "serious": flags["AESER"]
            | any_criterion
            | grade.eq(5).fillna(False)
            | outcome.eq("FATAL").fillna(False),
            "aeser": c.col("AESER").str.upper().map(YES_NO),
            "death": flags["AESDTH"],
            "life_threatening": flags["AESLIFE"],
            "hospitalisation": flags["AESHOSP"],
            "disability": flags["AESDISAB"],
            "congenital_anomaly": flags["AESCONG"],
            "medically_important": flags["AESMIE"],
            "rt_relation": rt_relation,
            "systemic_relation": systemic_relation,
            "outcome": outcome,
            "action_taken": c.col("AEACN").str.upper().replace("", None),
            "onset_on": start["date"],
            "onset_precision": start["precision"],
            "end_on": end["date"],
            "end_precision": end["precision"],
            "aware_on": aware["moment"],  # as written: the site's local time unless offset
            "aware_offset": aware["offset_minutes"],
            "aware_given": c.col("AEAWDTC").str.strip() != "",
        }
    )


def _ae_keys(subject: pd.Series, spid: pd.Series, seq: pd.Series, onset: pd.Series) -> pd.Series:
    """AESPID is the AE's identity (else AESEQ, which sites may renumber: give AESPID).
    Several records with one AESPID are the SDTM log form; ``collapse_log_form`` merges them."""
    return spid.where(spid != "", "SEQ:" + seq.astype("string").fillna(""))


RELATION_RANK = {"unrelated": 0, "unlikely": 1, "possible": 2, "probable": 3, "definite": 4}
SEVERITY_RANK = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}
SERIOUSNESS_FLAGS = (
    "serious",
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "medically_important",
)


def collapse_log_form(frame: pd.DataFrame) -> pd.DataFrame:
    """One version per AE identity from log-form records (one record per grade change).

    Like SDTM's mixed form (safety_domain §5): the worst grade (then severity) with its
    term and attribution, the strongest attribution to each treatment, seriousness and
    each criterion if any record has it, the earliest onset, the latest end (none while
    any record is ongoing) and the outcome of the latest record. So a re-export that adds
    an earlier record cannot make an SAE look downgraded.

    The records themselves are kept with the version (``evidence["records"]``, one per
    grade step, oldest first): once the first RT day is known, a grade that rises after it
    is a worsening of its own (aewatch.safety.emergence, ICH E9 / ADaM TRTEMFL).
    """
    keys = ["USUBJID", "ae_key"]
    if frame.empty or not frame.duplicated(keys).any():
        return frame
    work = frame.assign(
        _grade=pd.to_numeric(frame["reported_grade"], errors="coerce").fillna(0),
        _sev=frame["severity"].map(SEVERITY_RANK).fillna(0),
    )
    worst = work.sort_values(["_grade", "_sev", "ROW"], ascending=[False, False, True])
    out = worst.drop_duplicates(keys, keep="first").set_index(keys)
    grouped = work.groupby(keys, sort=False)
    for column in SERIOUSNESS_FLAGS:
        out[column] = grouped[column].any()
    for column in ("rt_relation", "systemic_relation"):
        ranked = work.assign(_rank=work[column].map(RELATION_RANK).fillna(-1))
        strongest = ranked.sort_values(["_rank", "ROW"], ascending=[False, True])
        out[column] = strongest.drop_duplicates(keys).set_index(keys)[column]
    first = work.sort_values(["onset_on", "ROW"], na_position="last").drop_duplicates(keys)
    first = first.set_index(keys)
    out["onset_on"], out["onset_precision"] = first["onset_on"], first["onset_precision"]
    latest = (
        work.sort_values(["onset_on", "ROW"], na_position="first")
        .drop_duplicates(keys, keep="last")
        .set_index(keys)
    )
    out["outcome"] = latest["outcome"]
    ongoing = work["end_on"].isna().groupby([work[k] for k in keys]).any()
    out["end_on"] = grouped["end_on"].max().where(~ongoing)
    out["ROW"] = grouped["ROW"].min()
    if "aeser" in work:
        said_y = work["aeser"].eq("Y").fillna(False).groupby([work[k] for k in keys]).any()
        said_n = work["aeser"].eq("N").fillna(False).groupby([work[k] for k in keys]).any()
        out["aeser"] = pd.Series(np.where(said_y, "Y", np.where(said_n, "N", None)), said_y.index)
    if "implausible" in work:
        flagged = work[work["implausible"].notna()]
        out["implausible"] = flagged.groupby(keys)["implausible"].agg(_joined_reasons)
    steps = work[work.duplicated(keys, keep=False)].sort_values(
        ["onset_on", "ROW"], na_position="last"
    )
    listed = pd.Series(log_records(steps), index=steps.index, dtype=object)
    lists = listed.groupby([steps[k] for k in keys], sort=False).agg(list)
    out["evidence"] = lists.map(lambda rows: {"records": rows})
    columns = [*frame.columns, *([] if "evidence" in frame.columns else ["evidence"])]
    return out.reset_index().drop(columns=["_grade", "_sev"])[columns]


# What one log-form record keeps of itself: its dates, grade, attribution and seriousness.
LOG_RECORD_FIELDS = (
    "onset_precision",
    "severity",
    "rt_relation",
    "systemic_relation",
    "outcome",
    *SERIOUSNESS_FLAGS,
)


def log_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Each record as plain JSON values (dates as YYYY-MM-DD), in the frame's order."""
    columns: dict[str, list[object]] = {"row": _plain(frame["ROW"])}
    for name in ("onset_on", "end_on", "aware_on"):
        if name in frame:
            days = pd.to_datetime(frame[name], errors="coerce")
            columns[name] = _plain(days.dt.strftime("%Y-%m-%d"))
    grade = pd.to_numeric(frame["reported_grade"], errors="coerce").astype("Int64")
    columns["grade"] = _plain(grade)
    for name in LOG_RECORD_FIELDS:
        if name in frame:
            columns[name] = _plain(frame[name])
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _plain(column: pd.Series) -> list[object]:
    """Python ints, bools and strings; None for any missing value."""
    values = column.astype(object).tolist()
    out: list[object] = []
    for v in values:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            out.append(None)
        elif isinstance(v, (bool, np.bool_)):
            out.append(bool(v))
        elif isinstance(v, (int, np.integer)):
            out.append(int(v))
        else:
            out.append(v)
    return out


def _joined_reasons(reasons: pd.Series) -> str | None:
    found = list(dict.fromkeys(r for r in reasons if isinstance(r, str) and r))
    return "; ".join(found) if found else None


def _lb(c: _Checker) -> pd.DataFrame:
    # Non-finite results and limits are kept for the plausibility stage to flag: the row
    # is a result the site sent (and may correct), not a malformed record.
    value = c.number("LBSTRESN", "result LBSTRESN", finite=False)
    low = c.number("LBSTNRLO", "lower limit LBSTNRLO", finite=False)
    high = c.number("LBSTNRHI", "upper limit LBSTNRHI", finite=False)
    when = c.date("LBDTC", "collection date LBDTC")
    unit_text = c.col("LBSTRESU")
    unit = unit_text.str.upper().map(UNITS).fillna(unit_text)
    c.whole("LBSEQ", "LBSEQ")
    testcd = c.col("LBTESTCD").str.upper()
    # Identity: test and collection time. Not LBSEQ: SDTM sequence numbers are regenerated
    # with every export, and "10:30" and "10:30:00" are the same moment.
    key = testcd + "|" + _canonical_dtc(c.col("LBDTC"))
    dup = pd.DataFrame({"s": c.col("USUBJID"), "k": key}).duplicated(keep="first") & ~c.bad
    c.reject(
        dup,
        "LBTESTCD",
        "the same test '{v}' at the same collection time appears twice for this subject: "
        "keep one result (or give the repeat its own time)",
    )
    site_grade = c.grade(
        "LBTOXGR",
        0,
        5,
        "LBTOXGR '{v}' is not a CTCAE grade: use the digits 0 to 5, or leave it empty "
        "(aewatch grades the result itself)",
    )
    return pd.DataFrame(
        {
            "lab_key": key,
            "test_code": testcd,
            "test_name": c.col("LBTEST").replace("", None),
            "value": value,
            "value_text": c.col("LBSTRESN"),
            "unit": unit.replace("", None),
            "lower_limit": low,
            "upper_limit": high,
            "collected_on": when["date"],
            "collected_dtc": c.col("LBDTC"),
            "baseline_flag": c.col("LBBLFL").str.upper().eq("Y"),
            "site_grade": site_grade,
        }
    )


def _ex(c: _Checker) -> pd.DataFrame:
    dose = c.number("EXDOSE", "dose per fraction EXDOSE", minimum=0, maximum=1e100)
    fractions = c.whole("EXNFRAC", "number of fractions EXNFRAC", minimum=1)
    start = c.date("EXSTDTC", "start date EXSTDTC")
    end = c.date("EXENDTC", "end date EXENDTC")
    c.reject(_before(end, start), "EXENDTC", "end date EXENDTC '{v}' is before EXSTDTC")
    seq = c.whole("EXSEQ", "EXSEQ")
    key = _ex_record_keys(c)
    dup = pd.DataFrame({"s": c.col("USUBJID"), "k": key}).duplicated(keep="first") & ~c.bad
    c.reject(
        dup,
        "EXSTDTC",
        "this record (same EXTRT, EXLOC, EXLNKID, EXSPID and EXSTDTC '{v}') appears twice for "
        "this subject: keep one (a second fraction on the same day needs its time in EXSTDTC; "
        "a second lesion needs its own EXLOC or EXLNKID)",
    )
    # Kept as sent: unit conversion, RT-versus-drug and liver involvement are decided when
    # the subject's courses are built (aewatch.exposure), so a config change applies to
    # every stored record.
    return pd.DataFrame(
        {
            "record_key": key,
            "treatment": c.col("EXTRT"),
            "lesion": c.col("EXLOC"),
            "link_id": c.col("EXLNKID"),
            "sponsor_id": c.col("EXSPID"),
            "seq": seq,
            "dose": dose,
            "dose_unit": c.col("EXDOSU"),
            "fractions": fractions,
            "dose_frequency": c.col("EXDOSFRQ").str.upper(),
            "adjustment": c.col("EXADJ"),
            "start_on": start["date"],
            "start_precision": start["precision"],
            "end_on": end["date"].fillna(start["date"]),
            "end_precision": end["precision"].fillna(start["precision"]),
        }
    )


def _ex_record_keys(c: _Checker) -> pd.Series:
    """An EX record's identity across exports: what was given, to what, from when.

    Not EXSEQ (regenerated with every export). EXSPID and EXLNKID are part of it where
    given; a site that numbers fractions keeps its numbers across exports. Long keys are
    hashed to fit the column.
    """
    parts = [
        c.col(name).str.upper().str.split().str.join(" ")
        for name in ("EXTRT", "EXLOC", "EXLNKID", "EXSPID")
    ]
    key = parts[0]
    for part in [*parts[1:], _canonical_dtc(c.col("EXSTDTC"))]:
        key = key + "|" + part
    long = key.str.len() > 200
    if long.any():
        key = key.where(~long, key[long].map(lambda k: "sha256:" + sha256(k.encode()).hexdigest()))
    return key


def _ds(c: _Checker) -> pd.DataFrame:
    """Disposition events and milestones. Identity: category, decoded term (and epoch),
    not DSSEQ (renumbered with every export) nor DSSPID (sponsors use it to link the AE
    that led to discontinuation): a subject dies, progresses or withdraws once."""
    start = c.date("DSSTDTC", "event date DSSTDTC")
    category = c.col("DSCAT").str.strip().str.upper()
    decoded = c.col("DSDECOD").str.strip().str.upper()
    is_event = category.isin(["", DISPOSITION_EVENT])
    disposition = decoded.map(DISPOSITIONS)
    disposition = disposition.where(~is_event, disposition.fillna("other"))
    disposition = disposition.where(is_event, category.map(DISPOSITION_CATEGORIES))
    disposition = disposition.fillna("other event")
    c.reject(
        is_event & (decoded != "") & ~decoded.isin(list(DISPOSITIONS)),
        "DSDECOD",
        "DSDECOD '{v}' is not a recognised disposition term: kept as 'other'; use a CDISC "
        "NCOMPLT term (e.g. DEATH, PROGRESSIVE DISEASE, LOST TO FOLLOW-UP, WITHDRAWAL BY "
        "SUBJECT) or SECOND-LINE THERAPY",
        kind="query",
    )
    key = category.where(category != "", DISPOSITION_EVENT) + "|" + decoded
    if c.has("EPOCH"):
        epoch = c.col("EPOCH").str.strip().str.upper()
        key = key.where(epoch == "", key + "|" + epoch)
    dup = pd.DataFrame({"s": c.col("USUBJID"), "k": key}).duplicated(keep="first") & ~c.bad
    c.reject(
        dup,
        "DSDECOD",
        "disposition '{v}' appears twice for this subject in this file: keep one record",
    )
    return pd.DataFrame(
        {
            "event_key": key,
            "category": category.replace("", DISPOSITION_EVENT),
            "decoded_term": decoded,
            "disposition": disposition,
            "start_on": start["date"],
            "start_precision": start["precision"],
        }
    )


def _canonical_dtc(text: pd.Series) -> pd.Series:
    """ISO 8601 collection time in one spelling: seconds ':00' and a 'Z' dropped."""
    return text.str.strip().str.replace(r"(T\d{2}:\d{2}):00(\.0+)?(Z)?$", r"\1", regex=True)


def _before(end: pd.DataFrame, start: pd.DataFrame) -> pd.Series:
    """End before start, judged only at the precision both dates share."""
    both_day = (end["precision"] == "day") & (start["precision"] == "day")
    return both_day & (end["date"] < start["date"])
