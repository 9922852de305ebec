"""A realistic synthetic export for NCT06261047, for the demo and the benchmarks.

36 patients enrolled over 18 months at 4 sites; each gets 1–3 radiotherapy courses
(one lesion each; one patient is re-irradiated months later) while first-line systemic
therapy goes on, recorded in EX too. The sites export radiotherapy differently: per
course in Gy, per fraction, per course in cGy, per course with a lesion link. Adverse
events follow a liver-RT toxicity profile (fatigue, nausea, transaminases,
thrombocytopenia, ascites, a few GI ulcers and bleeds, two RILD pictures after liver RT,
one death); labs at baseline and every 2–4 weeks; disposition events (DS: progression,
second-line therapy, lost to follow-up, the death). Some rows are deliberately wrong so
the quarantine has work (a total dose written as the fraction dose, a procedure that is
not radiotherapy, a fractional fraction count), and the DM export carries identifiers
(initials, birth date) that aewatch must drop.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

SITES = ("01", "02", "03", "04")
START = date(2025, 5, 1)
CATEGORIES = ("metachronous", "repeat", "induced")
THERAPIES = ("atezolizumab + bevacizumab", "lenvatinib", "sorafenib", "durvalumab + tremelimumab")
SCHEDULES = ((5, 8.0), (3, 15.0), (5, 10.0), (10, 5.0), (6, 8.0), (8, 7.0))  # (n, d): BED ≥ 60
# (term, SOC, grade weights 1..5, probability per patient, typical RT relation)
PROFILE = (
    (
        "Fatigue",
        "General disorders and administration site conditions",
        (60, 30, 10, 0, 0),
        0.7,
        "probable",
    ),
    ("Nausea", "Gastrointestinal disorders", (72, 26, 2, 0, 0), 0.45, "probable"),
    ("Anorexia", "Metabolism and nutrition disorders", (60, 35, 5, 0, 0), 0.3, "possible"),
    ("Abdominal pain", "Gastrointestinal disorders", (60, 36, 4, 0, 0), 0.3, "possible"),
    ("Alanine aminotransferase increased", "Investigations", (60, 32, 7, 1, 0), 0.3, "probable"),
    ("Platelet count decreased", "Investigations", (55, 35, 9, 1, 0), 0.25, "possible"),
    ("Hypertension", "Vascular disorders", (30, 55, 15, 0, 0), 0.3, "unrelated"),
    (
        "Palmar-plantar erythrodysesthesia syndrome",
        "Skin and subcutaneous tissue disorders",
        (50, 40, 10, 0, 0),
        0.2,
        "unrelated",
    ),
    ("Diarrhea", "Gastrointestinal disorders", (60, 30, 10, 0, 0), 0.25, "unlikely"),
    ("Ascites", "Gastrointestinal disorders", (35, 50, 15, 0, 0), 0.12, "possible"),
    ("Duodenal ulcer", "Gastrointestinal disorders", (20, 45, 30, 5, 0), 0.06, "probable"),
    (
        "Upper gastrointestinal hemorrhage",
        "Gastrointestinal disorders",
        (10, 30, 50, 10, 0),
        0.06,
        "possible",
    ),
    (
        "Dermatitis radiation",
        "Injury, poisoning and procedural complications",
        (70, 25, 5, 0, 0),
        0.1,
        "definite",
    ),
)
LABS = (  # code, name, unit, LLN, ULN, baseline mean, sd
    ("ALT", "Alanine Aminotransferase", "U/L", 0.0, 40.0, 35.0, 12.0),
    ("AST", "Aspartate Aminotransferase", "U/L", 0.0, 40.0, 38.0, 12.0),
    ("ALP", "Alkaline Phosphatase", "U/L", 40.0, 130.0, 110.0, 30.0),
    ("BILI", "Bilirubin", "umol/L", 3.4, 20.5, 14.0, 5.0),
    ("ALB", "Albumin", "g/L", 35.0, 55.0, 38.0, 4.0),
    ("INR", "Prothrombin Intl. Normalized Ratio", "RATIO", 0.8, 1.2, 1.1, 0.1),
    ("PLAT", "Platelets", "10^9/L", 125.0, 350.0, 150.0, 45.0),
    ("NEUT", "Neutrophils", "10^9/L", 1.8, 6.3, 3.4, 1.0),
    ("WBC", "Leukocytes", "10^9/L", 3.5, 9.5, 5.5, 1.5),
    ("LYM", "Lymphocytes", "10^9/L", 1.1, 3.2, 1.4, 0.4),
    ("HGB", "Hemoglobin", "g/L", 130.0, 175.0, 128.0, 14.0),
    ("CREAT", "Creatinine", "umol/L", 57.0, 111.0, 75.0, 15.0),
)


@dataclass
class _Patient:
    subject_id: str
    site: str
    enrolled: date
    rt_start: date
    rt_end: date
    status_end: date
    died: date | None = None


def write_demo_export(inbox: Path, *, seed: int = 6, trial_id: str = "NCT06261047") -> list[Path]:
    """Write dm.csv, ex.csv, ae.csv, lb.csv, ds.csv and an EDC JSON push into ``inbox``."""
    rng = np.random.default_rng(seed)
    inbox.mkdir(parents=True, exist_ok=True)
    patients = _patients(rng)
    files = [
        _write_csv(inbox / "nct06261047_dm.csv", _dm_rows(patients, trial_id, rng)),
        _write_csv(inbox / "nct06261047_ex.csv", _ex_rows(patients, trial_id, rng)),
        _write_csv(inbox / "nct06261047_ae.csv", _ae_rows(patients, trial_id, rng)),
        _write_csv(inbox / "nct06261047_lb.csv", _lb_rows(patients, trial_id, rng)),
        _write_csv(inbox / "nct06261047_ds.csv", _ds_rows(patients, trial_id, rng)),
    ]
    push = inbox / "edc_push_ae.json"
    push.write_text(json.dumps(_edc_push(patients, trial_id), indent=2), encoding="utf-8")
    files.append(push)
    return files


def _patients(rng: np.random.Generator) -> list[_Patient]:
    last_day = START + timedelta(days=548)
    patients = []
    enrol_days = np.sort(rng.integers(0, 480, size=36))
    for index, offset in enumerate(enrol_days):
        site = SITES[index % len(SITES)]
        enrolled = START + timedelta(days=int(offset))
        rt_start = enrolled + timedelta(days=int(rng.integers(3, 15)))
        rt_end = rt_start + timedelta(days=int(rng.integers(5, 20)))
        patients.append(
            _Patient(f"{site}-{index + 1:03d}", site, enrolled, rt_start, rt_end, last_day)
        )
    patients[5].died = patients[5].rt_end + timedelta(days=40)
    patients[5].status_end = patients[5].died
    return patients


def _dm_rows(patients: list[_Patient], trial: str, rng: np.random.Generator) -> list[dict]:
    rows = []
    for i, p in enumerate(patients):
        birth = date(1950 + int(rng.integers(0, 25)), int(rng.integers(1, 13)), 15)
        rows.append(
            {
                "STUDYID": trial,
                "DOMAIN": "DM",
                "USUBJID": p.subject_id,
                "SITEID": p.site,
                # Identifiers a real export may carry; aewatch must never store or send them.
                "SUBJINIT": "".join(chr(65 + int(x)) for x in rng.integers(0, 26, size=3)),
                "BRTHDTC": birth.isoformat(),
                "RFICDTC": (p.enrolled - timedelta(days=7)).isoformat(),
                "RFSTDTC": p.enrolled.isoformat(),
                "RFXSTDTC": p.rt_start.isoformat(),
                "RFXENDTC": p.rt_end.isoformat(),
                "DTHDTC": p.died.isoformat() if p.died else "",
                "DTHFL": "Y" if p.died else "",
                "SEX": "M" if rng.random() < 0.82 else "F",
                "ARM": "RT + continued first-line systemic therapy",
                "OLIGOCAT": CATEGORIES[i % 3],
                "FLSTTRT": THERAPIES[i % len(THERAPIES)],
            }
        )
    return rows


# How each site exports radiotherapy (they differ, as real sites do): one record per
# course in Gy, one record per fraction, one record per course in cGy, per course with a
# lesion link (EXLNKID).
SITE_EXPORT = {"01": "course", "02": "fraction", "03": "course-cGy", "04": "course-link"}
LESIONS = (
    "liver segment VII",
    "liver segment IV",
    "portal vein tumour thrombus",
    "lung metastasis",
    "adrenal metastasis",
    "bone metastasis (T10)",
)
# The two RILD pictures of the demo (patients 6 and 18) had liver-directed RT.
LIVER_FIRST = {5: "liver segment VII", 17: "liver segment VIII"}


def _ex_rows(patients: list[_Patient], trial: str, rng: np.random.Generator) -> list[dict]:
    rows: list[dict] = []
    # New details draw from their own stream, so the AE and lab streams stay as they were.
    extra = np.random.default_rng(606)
    for i, p in enumerate(patients):
        courses = 1 + int(rng.random() < 0.35) + int(rng.random() < 0.1)
        for c in range(courses):
            n, d = SCHEDULES[int(rng.integers(0, len(SCHEDULES)))]
            if i == 10 and c == 0:
                n, d = 5, 5.0  # BED 37.5 Gy10: a protocol deviation the daemon must flag
            lesion = LESIONS[(i + c) % len(LESIONS)]
            if c == 0 and i in LIVER_FIRST:
                lesion = LIVER_FIRST[i]
            rows += _rt_records(trial, p, c, lesion, n, d, p.rt_start, p.rt_end)
            if i == 20 and c == 0:  # the same lesion again months later: a re-irradiation
                again = p.rt_end + timedelta(days=150)
                rows += _rt_records(trial, p, 5, lesion, 5, 8.0, again, again + timedelta(6))
        rows += _systemic_records(trial, p, THERAPIES[i % len(THERAPIES)], extra)
    wrong = patients[12]  # deliberately wrong: a course's total dose written as EXDOSE
    rows.append(
        {
            **_rt_records(trial, wrong, 7, "lung metastasis", 5, 8.0, wrong.rt_start, wrong.rt_end)[
                0
            ],
            "EXDOSE": 40,
        }
    )
    rows.append(
        {  # a liver-directed procedure that is not radiotherapy: queried, not counted as RT
            "STUDYID": trial,
            "DOMAIN": "EX",
            "USUBJID": patients[3].subject_id,
            "EXSEQ": 90,
            "EXSPID": "TACE1",
            "EXTRT": "TACE",
            "EXDOSE": 50,
            "EXDOSU": "mg",
            "EXLOC": "liver",
            "EXSTDTC": (patients[3].enrolled - timedelta(days=200)).isoformat(),
            "EXENDTC": (patients[3].enrolled - timedelta(days=200)).isoformat(),
        }
    )
    rows.append(
        {  # deliberately bad: fractions not a whole number
            "STUDYID": trial,
            "DOMAIN": "EX",
            "USUBJID": patients[0].subject_id,
            "EXSEQ": 9,
            "EXSPID": "RT9",
            "EXTRT": "RADIOTHERAPY (SBRT)",
            "EXDOSE": 8,
            "EXDOSU": "Gy",
            "EXNFRAC": "4.5",
            "EXLOC": "liver segment II",
            "EXSTDTC": "2025-07-01",
            "EXENDTC": "2025-07-08",
        }
    )
    return rows


def _rt_records(
    trial: str, p: _Patient, c: int, lesion: str, n: int, d: float, start: date, end: date
) -> list[dict]:
    """One course as the patient's site exports it."""
    style = SITE_EXPORT[p.site]
    base = {
        "STUDYID": trial,
        "DOMAIN": "EX",
        "USUBJID": p.subject_id,
        "EXTRT": "RADIOTHERAPY (SBRT)",
        "EXLOC": lesion,
    }
    if style == "fraction":  # one record per treatment day, a lesion number in EXSPID
        span = max((end - start).days, 1)
        step = max(1, span // max(n - 1, 1))
        return [
            {
                **base,
                "EXSEQ": 100 * (c + 1) + k,
                "EXSPID": f"L{c + 1}",
                "EXDOSE": d,
                "EXDOSU": "Gy",
                "EXSTDTC": (start + timedelta(days=k * step)).isoformat(),
            }
            for k in range(n)
        ]
    record = {
        **base,
        "EXSEQ": c + 1,
        "EXSPID": f"RT{c + 1}",
        "EXDOSE": d * 100 if style == "course-cGy" else d,
        "EXDOSU": "cGy" if style == "course-cGy" else "Gy",
        "EXNFRAC": n,
        "EXSTDTC": start.isoformat(),
        "EXENDTC": end.isoformat(),
    }
    if style == "course-link":
        record["EXLNKID"] = f"T{c + 1:02d}"
    return [record]


# First-line systemic therapy as EX dosing records: drug, dose, unit, frequency, days per
# record (a cycle).
REGIMENS = {
    "atezolizumab + bevacizumab": (
        ("ATEZOLIZUMAB", 1200, "mg", "Q3W"),
        ("BEVACIZUMAB", 15, "mg/kg", "Q3W"),
    ),
    "lenvatinib": (("LENVATINIB", 8, "mg", "QD"),),
    "sorafenib": (("SORAFENIB", 400, "mg", "BID"),),
    "durvalumab + tremelimumab": (("DURVALUMAB", 1500, "mg", "Q4W"),),
}


def _systemic_records(
    trial: str, p: _Patient, therapy: str, rng: np.random.Generator
) -> list[dict]:
    """Dosing from 4 months before enrolment (first line began before the trial) to the end
    of follow-up or 8 months after enrolment; some dose reductions and interruptions."""
    rows: list[dict] = []
    first = p.enrolled - timedelta(days=120)
    last = min(p.status_end, p.enrolled + timedelta(days=240))
    reduce_at = int(rng.integers(2, 8)) if rng.random() < 0.3 else None
    hold_at = int(rng.integers(2, 8)) if rng.random() < 0.2 else None
    for drug, dose, unit, frequency in REGIMENS[therapy]:
        day, cycle = first, 0
        while day <= last:
            if frequency in ("QD", "BID"):  # continuous: one record per 28-day cycle
                end = min(day + timedelta(days=27), last)
                given = dose // 2 if reduce_at is not None and cycle >= reduce_at else dose
                rows.append(_dosing(trial, p, drug, given, unit, frequency, day, end,
                                    "ADVERSE EVENT" if cycle == reduce_at else ""))  # fmt: skip
                day = end + timedelta(days=8 if cycle == hold_at else 1)  # a 7-day hold
            else:  # infusions: one record per infusion day
                rows.append(_dosing(trial, p, drug, dose, unit, frequency, day, day, ""))
                interval = 21 if frequency == "Q3W" else 28
                day += timedelta(days=interval + (14 if cycle == hold_at else 0))
            cycle += 1
    if therapy == "durvalumab + tremelimumab":  # STRIDE: one priming dose of tremelimumab
        rows.append(_dosing(trial, p, "TREMELIMUMAB", 300, "mg", "ONCE", first, first, ""))
    return rows


def _dosing(
    trial: str,
    p: _Patient,
    drug: str,
    dose: float,
    unit: str,
    frequency: str,
    start: date,
    end: date,
    adjustment: str,
) -> dict:
    return {
        "STUDYID": trial,
        "DOMAIN": "EX",
        "USUBJID": p.subject_id,
        "EXTRT": drug,
        "EXDOSE": dose,
        "EXDOSU": unit,
        "EXDOSFRQ": frequency,
        "EXADJ": adjustment,
        "EXSTDTC": start.isoformat(),
        "EXENDTC": end.isoformat(),
    }


def _ae_rows(patients: list[_Patient], trial: str, rng: np.random.Generator) -> list[dict]:
    rows: list[dict] = []
    for i, p in enumerate(patients):
        number = 0
        for term, soc, weights, prob, relation in PROFILE:
            if rng.random() >= prob:
                continue
            number += 1
            grade = int(rng.choice([1, 2, 3, 4, 5], p=np.array(weights) / sum(weights)))
            onset = p.rt_start + timedelta(days=int(rng.integers(1, 120)))
            if onset > p.status_end:
                continue
            serious = grade >= 3 and (rng.random() < 0.5 or grade == 4)
            rows.append(_ae(trial, p, number, term, soc, grade, onset, relation, serious, rng))
        if i == 5:  # the death: hepatic failure after liver RT
            number += 1
            rows.append(
                _ae(
                    trial,
                    p,
                    number,
                    "Hepatic failure",
                    "Hepatobiliary disorders",
                    5,
                    p.died - timedelta(days=6),
                    "possible",
                    True,
                    rng,
                    fatal=True,
                )
            )
    rows.append({**rows[0], "AESPID": "AE-99", "AETOXGR": "7"})  # grade outside 1-5
    rows.append({**rows[1], "AESPID": "AE-98", "AESTDTC": "2025-13-45"})  # no such date
    rows.append({**rows[2], "AESPID": "AE-97", "USUBJID": "05-999"})  # subject not in DM: held
    bad_end = {**rows[3], "AESPID": "AE-96"}
    bad_end["AEENDTC"] = "2025-01-01"  # before its onset
    rows.append(bad_end)
    rows.append({**rows[4], "AESPID": "AE-95", "AEREL": "SOMEWHAT"})  # not a relationship term
    return rows


def _ae(
    trial: str,
    p: _Patient,
    number: int,
    term: str,
    soc: str,
    grade: int,
    onset: date,
    relation: str,
    serious: bool,
    rng: np.random.Generator,
    fatal: bool = False,
) -> dict:
    recovered = not fatal and rng.random() < 0.7
    end = onset + timedelta(days=int(rng.integers(5, 40))) if recovered else None
    return {
        "STUDYID": trial,
        "DOMAIN": "AE",
        "USUBJID": p.subject_id,
        "AESEQ": number,
        "AESPID": f"AE-{number}",
        "AETERM": term.upper(),
        "AEDECOD": term,
        "AEBODSYS": soc,
        "AETOXGR": grade,
        "AESER": "Y" if serious or fatal else "N",
        "AESDTH": "Y" if fatal else "N",
        "AESLIFE": "Y" if grade == 4 else "N",
        "AESHOSP": "Y" if serious and grade < 5 else "N",
        "AESDISAB": "N",
        "AESCONG": "N",
        "AESMIE": "N",
        "AEREL": relation.upper(),
        "AERELSYS": "POSSIBLE"
        if term in ("Hypertension", "Diarrhea", "Palmar-plantar erythrodysesthesia syndrome")
        else "UNLIKELY",
        "AEOUT": "FATAL"
        if fatal
        else ("RECOVERED/RESOLVED" if recovered else "NOT RECOVERED/NOT RESOLVED"),
        "AEACN": "DRUG INTERRUPTED" if grade >= 3 and not fatal else "DOSE NOT CHANGED",
        "AESTDTC": onset.isoformat(),
        "AEENDTC": end.isoformat() if end else "",
        # Some sites export the awareness date of an SAE, others do not (then aewatch
        # uses the receipt time and the DSMB report says the date was not supplied).
        "AEAWDTC": (onset + timedelta(days=1)).isoformat()
        if (serious or fatal) and number % 2 == 0
        else "",
    }


def _lb_rows(patients: list[_Patient], trial: str, rng: np.random.Generator) -> list[dict]:
    rows = []
    for i, p in enumerate(patients):
        visits = [p.rt_start - timedelta(days=3)]
        day = p.rt_start + timedelta(days=14)
        while day <= min(p.status_end, p.rt_start + timedelta(days=360)):
            visits.append(day)
            day += timedelta(days=int(rng.integers(14, 29)))
        seq = 0
        for v, visit in enumerate(visits):
            for code, name, unit, lln, uln, mean, sd in LABS:
                seq += 1
                value = float(np.clip(rng.normal(mean, sd * 0.6), mean * 0.6, mean * 1.5))
                if code in ("ALT", "AST") and i in (5, 17) and 1 <= v <= 3:
                    value = uln * (6.5 if i == 17 else 9.0)  # non-classic RILD picture
                if code == "BILI" and i == 5 and v >= 2:
                    value = uln * 3.5  # with jaundice: Hy's law and liver failure
                if code == "PLAT" and i in (8, 22) and v == 2:
                    value = 38.0  # grade 3 thrombocytopenia
                rows.append(
                    {
                        "STUDYID": trial,
                        "DOMAIN": "LB",
                        "USUBJID": p.subject_id,
                        "LBSEQ": seq,
                        "LBTESTCD": code,
                        "LBTEST": name,
                        "LBSTRESN": round(value, 2),
                        "LBSTRESU": unit,
                        "LBSTNRLO": lln,
                        "LBSTNRHI": uln,
                        "LBBLFL": "Y" if v == 0 else "",
                        "LBDTC": f"{visit.isoformat()}T08:30",
                    }
                )
    rows.append({**rows[0], "LBSEQ": 99999, "LBSTRESN": "12,5"})  # decimal comma: not a number
    return rows


def _ds_rows(patients: list[_Patient], trial: str, rng: np.random.Generator) -> list[dict]:
    """Disposition: the death (also in DM), progressions after RT, second-line therapy for
    some of them, and one patient lost to follow-up after the toxicity window."""
    rows = []

    def event(p: _Patient, term: str, on: date) -> None:
        rows.append(
            {
                "STUDYID": trial,
                "DOMAIN": "DS",
                "USUBJID": p.subject_id,
                "DSSEQ": sum(r["USUBJID"] == p.subject_id for r in rows) + 1,
                "DSTERM": term,
                "DSDECOD": term,
                "DSCAT": "DISPOSITION EVENT",
                "DSSTDTC": on.isoformat(),
            }
        )

    for i, p in enumerate(patients):
        if p.died is not None:
            event(p, "DEATH", p.died)
            continue
        if i == 30:
            event(p, "LOST TO FOLLOW-UP", p.rt_end + timedelta(days=200))
            continue
        progressed = p.rt_end + timedelta(days=int(rng.integers(100, 220)))
        if rng.random() < 0.35 and progressed <= p.status_end:
            event(p, "PROGRESSIVE DISEASE", progressed)
            second_line = progressed + timedelta(days=int(rng.integers(10, 30)))
            if rng.random() < 0.6 and second_line <= p.status_end:
                event(p, "SECOND-LINE THERAPY", second_line)
    return rows


def _edc_push(patients: list[_Patient], trial: str) -> list[dict]:
    """An EDC pushing one SAE follow-up as JSON: the grade went from 3 to 4."""
    p = patients[17]
    return [
        {
            "STUDYID": trial,
            "DOMAIN": "AE",
            "USUBJID": p.subject_id,
            "AESEQ": 50,
            "AESPID": "AE-50",
            "AETERM": "HEPATIC PAIN",
            "AEDECOD": "Hepatic pain",
            "AEBODSYS": "Hepatobiliary disorders",
            "AETOXGR": "3",
            "AESER": "Y",
            "AESHOSP": "Y",
            "AEREL": "PROBABLE",
            "AERELSYS": "UNLIKELY",
            "AEOUT": "RECOVERING/RESOLVING",
            "AESTDTC": (p.rt_end + timedelta(days=20)).isoformat(),
        }
    ]


def _write_csv(path: Path, rows: list[dict]) -> Path:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path
