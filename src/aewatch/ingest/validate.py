"""Column-wise validation of one domain table: typed values out, faults with reasons out.

Each check is a vectorised mask; a row with any fault is quarantined with every
reason found (one quarantine entry per field), and its good neighbours go on.
Reasons are written for the site's data manager: what is wrong and what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from aewatch.ingest.dates import parse_iso_dates
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
SEVERITIES = {"MILD", "MODERATE", "SEVERE"}
SEXES = {"M", "F", "U", "UNDIFFERENTIATED"}


@dataclass
class Fault:
    row: int  # 1-based data row
    field: str | None
    value: str | None
    reason: str
    kind: str = "rejected"  # rejected | query (a query keeps the row)
    subject: str | None = None


@dataclass
class Checked:
    """A validated table: ``frame`` holds only the rows that passed, typed."""

    domain: str
    frame: pd.DataFrame
    faults: list[Fault] = field(default_factory=list)
    rows: int = 0
    columns: frozenset[str] = frozenset()  # the variables the file actually carried


class _Checker:
    def __init__(self, domain: str, frame: pd.DataFrame) -> None:
        self.domain = domain
        self.frame = frame
        self.bad = pd.Series(False, index=frame.index)
        self.faults: list[Fault] = []

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
        parsed = parse_iso_dates(self.col(name))
        self.reject(
            parsed["invalid"],
            name,
            f"{label} '{{v}}' is not an ISO 8601 date (use YYYY-MM-DD, YYYY-MM or YYYY)",
        )
        return parsed

    def number(self, name: str, label: str, *, minimum: float | None = None) -> pd.Series:
        text = self.col(name)
        values = pd.to_numeric(text.where(text != ""), errors="coerce")
        self.reject((text != "") & values.isna(), name, f"{label} '{{v}}' is not a number")
        if minimum is not None:
            self.reject(values < minimum, name, f"{label} '{{v}}' is below {minimum:g}")
        return values

    def vocabulary(self, name: str, mapping: dict[str, str], hint: str) -> pd.Series:
        text = self.col(name)
        mapped = text.str.upper().map(mapping)
        self.reject((text != "") & mapped.isna(), name, f"{name} '{{v}}' is not recognised: {hint}")
        return mapped

    def result(self, typed: pd.DataFrame) -> Checked:
        keep = ~self.bad
        return Checked(
            self.domain,
            typed.loc[keep].reset_index(drop=True),
            self.faults,
            rows=len(self.frame),
            columns=frozenset(self.frame.columns),
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
    _reject_duplicate_rows(checker)
    typed = {"DM": _dm, "AE": _ae, "LB": _lb, "EX": _ex, "DS": _ds}[domain](checker)
    typed["ROW"] = frame["ROW"].to_numpy()
    typed["USUBJID"] = checker.col("USUBJID").to_numpy()
    typed["STUDYID"] = checker.col("STUDYID").to_numpy()
    return checker.result(typed)


def _reject_duplicate_rows(checker: _Checker) -> None:
    data_columns = [c for c in checker.frame.columns if c != "ROW"]
    duplicated = checker.frame.duplicated(subset=data_columns, keep="first")
    checker.reject(
        duplicated, None, "duplicate of an earlier row in the same file: remove the copy"
    )


def _dm(c: _Checker) -> pd.DataFrame:
    rfx = c.date("RFXSTDTC", "first treatment date RFXSTDTC")
    rfxend = c.date("RFXENDTC", "last treatment date RFXENDTC")
    rfst = c.date("RFSTDTC", "reference start RFSTDTC")
    consent = c.date("RFICDTC", "consent date RFICDTC")
    death = c.date("DTHDTC", "death date DTHDTC")
    withdrawn = c.date("WITHDTC", "withdrawal date WITHDTC")
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
        died_flag.eq("Y") & death["date"].isna(),
        "DTHDTC",
        "DTHFL is Y but DTHDTC is empty: give the date of death",
        kind="query",
    )
    enrolled = rfst["date"].fillna(consent["date"]).fillna(rfx["date"])
    return pd.DataFrame(
        {
            "site": c.col("SITEID"),
            "enrolled_on": enrolled,
            "reference_start": rfx["date"].fillna(rfst["date"]),
            "reference_end": rfxend["date"],
            "died_on": death["date"],
            "death_flag": died_flag.eq("Y"),
            "withdrawn_on": withdrawn["date"],
            "oligoprogression": oligo,
            "systemic_therapy": c.col("FLSTTRT").replace("", None),
            "sex": sex.replace("", None),
            "arm": c.col("ARM").replace("", None),
        }
    )


def _ae(c: _Checker) -> pd.DataFrame:
    grade_text = c.col("AETOXGR")
    grade = pd.to_numeric(grade_text.where(grade_text != ""), errors="coerce")
    c.reject(
        (grade_text != "") & (grade.isna() | ~grade.isin([1, 2, 3, 4, 5])),
        "AETOXGR",
        "AETOXGR '{v}' is not a CTCAE grade: use the digits 1 to 5",
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
    aeser_text = c.col("AESER").str.upper().map(YES_NO)
    c.reject(
        aeser_text.eq("N") & any_criterion,
        "AESER",
        "AESER is N but a seriousness criterion is Y: treated as serious; confirm with the site",
        kind="query",
    )
    rel_hint = "use unrelated, unlikely, possible, probable or definite"
    rt_relation = c.vocabulary("AEREL", RELATIONSHIP, rel_hint)
    systemic_relation = c.vocabulary("AERELSYS", RELATIONSHIP, rel_hint)
    outcome = c.vocabulary("AEOUT", OUTCOMES, "use the SDTM OUT codelist (e.g. RECOVERED/RESOLVED)")
    start = c.date("AESTDTC", "onset date AESTDTC")
    end = c.date("AEENDTC", "end date AEENDTC")
    aware = c.date("AEAWDTC", "awareness date AEAWDTC")
    c.reject(_before(end, start), "AEENDTC", "end date AEENDTC '{v}' is before the onset date")
    seq = c.number("AESEQ", "AESEQ", minimum=0)
    spid = c.col("AESPID")
    c.reject(
        (spid == "") & seq.isna(),
        "AESPID",
        "no AE identifier: give AESPID (preferred) or AESEQ so re-exports update this AE",
    )
    return pd.DataFrame(
        {
            "ae_key": _ae_keys(c.col("USUBJID"), spid, seq, start["date"]),
            "aeseq": _whole(seq),
            "verbatim_term": c.col("AETERM"),
            "decoded_term": c.col("AEDECOD").replace("", None),
            "body_system": c.col("AEBODSYS").replace("", None),
            "reported_grade": _whole(grade.where(grade.isin([1, 2, 3, 4, 5]))),
            "severity": severity.replace("", None),
            "serious": flags["AESER"] | any_criterion,
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
            "aware_on": aware["date"],
        }
    )


def _ae_keys(subject: pd.Series, spid: pd.Series, seq: pd.Series, onset: pd.Series) -> pd.Series:
    """AESPID is the AE's identity (else AESEQ, which sites may renumber: give AESPID).
    Several records with one AESPID are the SDTM log form; ``collapse_log_form`` merges them."""
    return spid.where(spid != "", "SEQ:" + _whole(seq).astype("string").fillna(""))


RELATION_RANK = {"unrelated": 0, "unlikely": 1, "possible": 2, "probable": 3, "definite": 4}
SEVERITY_RANK = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}
_ANY = (
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
    for column in _ANY:
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
    ongoing = grouped["end_on"].apply(lambda ends: ends.isna().any())
    out["end_on"] = grouped["end_on"].max().where(~ongoing)
    out["ROW"] = grouped["ROW"].min()
    return out.reset_index().drop(columns=["_grade", "_sev"])[frame.columns]


def _lb(c: _Checker) -> pd.DataFrame:
    value = c.number("LBSTRESN", "result LBSTRESN")
    low = c.number("LBSTNRLO", "lower limit LBSTNRLO")
    high = c.number("LBSTNRHI", "upper limit LBSTNRHI")
    c.reject(low > high, "LBSTNRLO", "lower limit LBSTNRLO '{v}' is above the upper limit")
    when = c.date("LBDTC", "collection date LBDTC")
    unit_text = c.col("LBSTRESU")
    unit = unit_text.str.upper().map(UNITS).fillna(unit_text)
    c.number("LBSEQ", "LBSEQ", minimum=0)
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
    grade_text = c.col("LBTOXGR")
    site_grade = pd.to_numeric(grade_text.where(grade_text != ""), errors="coerce")
    return pd.DataFrame(
        {
            "lab_key": key,
            "test_code": testcd,
            "test_name": c.col("LBTEST").replace("", None),
            "value": value,
            "unit": unit.replace("", None),
            "lower_limit": low,
            "upper_limit": high,
            "collected_on": when["date"],
            "collected_dtc": c.col("LBDTC"),
            "baseline_flag": c.col("LBBLFL").str.upper().eq("Y"),
            "site_grade": _whole(site_grade),
        }
    )


def _ex(c: _Checker) -> pd.DataFrame:
    dose = c.number("EXDOSE", "dose per fraction EXDOSE", minimum=0)
    fractions = c.number("EXNFRAC", "number of fractions EXNFRAC", minimum=1)
    c.reject(
        fractions.notna() & (fractions != fractions.round()),
        "EXNFRAC",
        "number of fractions EXNFRAC '{v}' is not a whole number",
    )
    start = c.date("EXSTDTC", "start date EXSTDTC")
    end = c.date("EXENDTC", "end date EXENDTC")
    c.reject(_before(end, start), "EXENDTC", "end date EXENDTC '{v}' is before EXSTDTC")
    unit = c.col("EXDOSU")
    is_gy = unit.str.upper().isin(["GY", "GRAY"])
    c.reject(
        fractions.notna() & ~is_gy & (unit != ""),
        "EXDOSU",
        "EXNFRAC is given but EXDOSU '{v}' is not Gy: radiotherapy doses are in Gy",
    )
    seq = c.number("EXSEQ", "EXSEQ", minimum=0)
    key = c.col("EXSPID")
    key = key.where(key != "", c.col("EXLNKID"))
    key = key.where(key != "", "SEQ:" + _whole(seq).astype("string").fillna(""))
    c.reject(key == "SEQ:", "EXSPID", "no course identifier: give EXSPID, EXLNKID or EXSEQ")
    dup = pd.DataFrame({"s": c.col("USUBJID"), "k": key}).duplicated(keep="first") & ~c.bad
    c.reject(dup & (key != "SEQ:"), "EXSPID", "course '{v}' appears twice for this subject")
    return pd.DataFrame(
        {
            "course_key": key,
            "treatment": c.col("EXTRT"),
            "lesion": c.col("EXLOC"),
            "dose_per_fraction_gy": dose.where(is_gy),
            "fractions": _whole(fractions),
            "dose": dose,
            "dose_unit": unit,
            "start_on": start["date"],
            "end_on": end["date"].fillna(start["date"]),
        }
    )


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


def _whole(values: pd.Series) -> pd.Series:
    """Whole numbers as Int64; anything else (already rejected) becomes missing."""
    return values.where(values == values.round()).astype("Int64")


def _before(end: pd.DataFrame, start: pd.DataFrame) -> pd.Series:
    """End before start, judged only at the precision both dates share."""
    both_day = (end["precision"] == "day") & (start["precision"] == "day")
    return both_day & (end["date"] < start["date"])
