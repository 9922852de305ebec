"""`aewatch counts` on a SQLite database of 100,000 AEs, whole process, against the
``sqlite3`` shell running the same SQL (every statement the command runs, parameters
inlined) on the same file, timed alternately. Goal: `counts --by term` at most 2 × the
shell. Also prints each command's ratio to a bare interpreter.

Builds a synthetic trial with bulk inserts (reused by bench_report.py). Needs the
``sqlite3`` shell (Debian package sqlite3; `make system-deps`). Prints; asserts nothing.

    .venv/bin/python bench/bench_counts.py [--aes 100000] [--patients 2000] [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from harness import REPO, aewatch, machine, paired, ratio_line, wall

CONFIG = REPO / "config" / "nct06261047.toml"
TERMS = (
    ("Investigations", "Alanine aminotransferase increased"),
    ("Investigations", "Aspartate aminotransferase increased"),
    ("Investigations", "Blood bilirubin increased"),
    ("Investigations", "Alkaline phosphatase increased"),
    ("Investigations", "Platelet count decreased"),
    ("Investigations", "Lymphocyte count decreased"),
    ("Investigations", "White blood cell decreased"),
    ("Investigations", "INR increased"),
    ("General disorders and administration site conditions", "Fatigue"),
    ("General disorders and administration site conditions", "Fever"),
    ("Gastrointestinal disorders", "Nausea"),
    ("Gastrointestinal disorders", "Vomiting"),
    ("Gastrointestinal disorders", "Diarrhea"),
    ("Gastrointestinal disorders", "Abdominal pain"),
    ("Gastrointestinal disorders", "Ascites"),
    ("Gastrointestinal disorders", "Gastric ulcer"),
    ("Gastrointestinal disorders", "Upper gastrointestinal hemorrhage"),
    ("Hepatobiliary disorders", "Hepatic failure"),
    ("Hepatobiliary disorders", "Portal vein thrombosis"),
    ("Metabolism and nutrition disorders", "Anorexia"),
    ("Metabolism and nutrition disorders", "Hypoalbuminemia"),
    ("Vascular disorders", "Hypertension"),
    ("Skin and subcutaneous tissue disorders", "Palmar-plantar erythrodysesthesia syndrome"),
    ("Skin and subcutaneous tissue disorders", "Dermatitis radiation"),
    ("Renal and urinary disorders", "Proteinuria"),
    ("Endocrine disorders", "Hypothyroidism"),
    ("Infections and infestations", "Hepatitis B reactivation"),
    ("Blood and lymphatic system disorders", "Anemia"),
)
RELATIONS = ("unrelated", "unlikely", "possible", "probable", "definite", None)
AGENTS = ("lenvatinib", "sorafenib", "atezolizumab + bevacizumab", "durvalumab + tremelimumab")
LABS = (
    ("ALT", "U/L", "high"),
    ("AST", "U/L", "high"),
    ("BILI", "umol/L", "high"),
    ("ALB", "g/L", "low"),
    ("PLAT", "10^9/L", "low"),
    ("LYM", "10^9/L", "low"),
)


def build_synthetic_db(
    url: str,
    patients: int,
    aes: int,
    *,
    seed: int = 6261047,
    labs_per_patient: int = 8,
    start: date = date(2024, 1, 1),
    end: date = date(2026, 1, 31),
) -> int:
    """A migrated database with one synthetic trial; returns the trial's primary key."""
    from sqlalchemy import insert

    from aewatch import models
    from aewatch.config import load_settings
    from aewatch.db import make_engine
    from aewatch.migrate import upgrade
    from aewatch.trials import ensure_trial

    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade(engine)
    now = datetime(2026, 2, 1, tzinfo=UTC)
    settings = load_settings(CONFIG, env={})
    span = (end - start).days
    with engine.begin() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            trial_pk = ensure_trial(session, settings, now).id
            session.flush()
        sites = [f"S{i:02d}" for i in range(1, min(12, max(2, patients // 3)) + 1)]
        subjects, courses, enrolled = [], [], {}
        for i in range(1, patients + 1):
            sid = f"{sites[i % len(sites)]}-{i:05d}"
            day = start + timedelta(days=int(span * (i / patients) ** 0.8))
            enrolled[i] = day
            died = day + timedelta(days=rng.randint(30, 400)) if rng.random() < 0.08 else None
            subjects.append(
                {
                    "id": i,
                    "trial_pk": trial_pk,
                    "subject_id": sid,
                    "study_id": "NCT06261047",
                    "site": sites[i % len(sites)],
                    "enrolled_on": day,
                    "oligoprogression": rng.choice(("intrahepatic", "extrahepatic", "both")),
                    "systemic_therapy": rng.choice(AGENTS),
                    "died_on": died if died and died < end else None,
                    "last_contact_on": min(end, day + timedelta(days=rng.randint(20, 500))),
                    "updated_at": now,
                }
            )
            if rng.random() < 0.97:
                for lesion in range(rng.choice((1, 1, 1, 2, 3))):
                    fractions, dose = rng.choice(((5, 8.0), (3, 10.0), (5, 7.0), (10, 5.0)))
                    rt_start = day + timedelta(days=7 + 3 * lesion)
                    bed = round(fractions * dose * (1 + dose / 10), 6)
                    courses.append(
                        {
                            "subject_pk": i,
                            "course_key": f"L{lesion + 1}",
                            "lesion": f"L{lesion + 1}",
                            "treatment": "SBRT",
                            "dose_per_fraction_gy": dose,
                            "fractions": fractions,
                            "total_dose_gy": fractions * dose,
                            "start_on": rt_start,
                            "end_on": rt_start + timedelta(days=fractions + 1),
                            "bed_gy": bed,
                            "eqd2_gy": round(bed / 1.2, 6),
                            "alpha_beta_gy": 10.0,
                            "bed_below_minimum": round(bed, 2) < 60,
                            "updated_at": now,
                        }
                    )
        conn.execute(insert(models.Subject), subjects)
        conn.execute(insert(models.RtCourse), courses)
        identities, versions = [], []
        for ae_pk in range(1, aes + 1):
            subject_pk = rng.randint(1, patients)
            soc, term = rng.choice(TERMS)
            grade = rng.choices((1, 2, 3, 4, 5), weights=(50, 30, 15, 4, 1))[0]
            onset = enrolled[subject_pk] + timedelta(days=rng.randint(-5, 300))
            recorded = datetime.combine(onset, datetime.min.time(), UTC) + timedelta(days=2)
            origin = "lab" if term.endswith(("increased", "decreased")) and grade >= 3 else "site"
            n_versions = 2 if rng.random() < 0.1 else 1
            identities.append(
                {
                    "id": ae_pk,
                    "trial_pk": trial_pk,
                    "subject_pk": subject_pk,
                    "ae_key": f"AE-{ae_pk}",
                    "origin": origin,
                    "current_version": n_versions,
                    "created_at": recorded,
                }
            )
            for version in range(1, n_versions + 1):
                serious = grade >= 4 or rng.random() < 0.03
                versions.append(
                    {
                        "ae_pk": ae_pk,
                        "version": version,
                        "is_current": version == n_versions,
                        "content_hash": f"{ae_pk}-{version}",
                        "recorded_at": recorded + timedelta(days=7 * (version - 1)),
                        "ctcae_term": term,
                        "ctcae_soc": soc,
                        "decoded_term": term,
                        "grade": max(1, grade - (n_versions - version)),
                        "serious": serious,
                        "death": grade == 5,
                        "hospitalisation": serious,
                        "rt_relation": rng.choice(RELATIONS),
                        "systemic_relation": rng.choice(RELATIONS),
                        "outcome": "FATAL" if grade == 5 else "RECOVERED/RESOLVED",
                        "action_taken": rng.choice(
                            ("DOSE NOT CHANGED",) * 8 + ("DRUG INTERRUPTED", "DOSE REDUCED")
                        ),
                        "onset_on": onset,
                        "aware_at": recorded - timedelta(hours=20),
                        "dictionary_version": "CTCAE v5.0 (synthetic)",
                    }
                )
        for chunk in range(0, len(identities), 20000):
            conn.execute(insert(models.AdverseEvent), identities[chunk : chunk + 20000])
        for chunk in range(0, len(versions), 20000):
            conn.execute(insert(models.AeVersion), versions[chunk : chunk + 20000])
        lab_rows = []
        for i in range(1, patients + 1):
            for k in range(labs_per_patient):
                code, unit, direction = LABS[k % len(LABS)]
                day = enrolled[i] + timedelta(days=5 + 30 * (k // len(LABS)))
                grade = rng.choices((0, 1, 2, 3, 4), weights=(60, 25, 10, 4, 1))[0]
                value = {"ALT": 40, "AST": 40, "BILI": 15, "ALB": 38, "PLAT": 150, "LYM": 1.2}[
                    code
                ] * (1 + (0.5 * grade if direction == "high" else -0.15 * grade))
                lab_rows.append(
                    {
                        "subject_pk": i,
                        "lab_key": f"{i}-{k}",
                        "test_code": code,
                        "value": value,
                        "unit": unit,
                        "collected_on": day,
                        "baseline_flag": k < len(LABS),
                        "tox_grade_high": grade if direction == "high" else None,
                        "tox_grade_low": grade if direction == "low" else None,
                        "updated_at": now,
                    }
                )
        conn.execute(insert(models.LabResult), lab_rows)
        conn.execute(
            insert(models.Site),
            [
                {
                    "trial_pk": trial_pk,
                    "site_code": s,
                    "first_data_at": now - timedelta(days=700),
                    "last_data_at": now - timedelta(days=rng.randint(0, 45)),
                }
                for s in sites
            ],
        )
        statuses, toxic = [], 0
        for look in range(1, min(patients, 36) + 1):
            evaluable = look
            toxic += int(rng.random() < 0.15)
            statuses.append(
                {
                    "trial_pk": trial_pk,
                    "rule_name": "grade3-rt-related",
                    "evaluated_at": datetime.combine(start, datetime.min.time(), UTC)
                    + timedelta(days=int(span * look / 37)),
                    "evaluable_n": evaluable,
                    "toxic_n": toxic,
                    "stop_at": 3 + look // 4,
                    "cushion": 3 + look // 4 - toxic,
                    "state": "ok",
                }
            )
        conn.execute(insert(models.RuleStatusRecord), statuses)
        conn.execute(
            insert(models.QuarantineEntry),
            [
                {
                    "trial_pk": trial_pk,
                    "file_name": "ae.csv",
                    "reason": "synthetic",
                    "kind": rng.choice(("rejected", "pending", "query")),
                    "state": "open",
                    "created_at": now - timedelta(days=rng.randint(1, 60)),
                }
                for _ in range(20)
            ],
        )
    engine.dispose()
    return trial_pk


def statements(url: str, args: list[str]) -> str:
    """The SQL `aewatch counts ARGS` runs, with its parameters inlined, for the shell."""
    import sqlite3

    from aewatch.commands.reports import clock_now, data_cut
    from aewatch.config import load_settings
    from aewatch.dbapi import connect
    from aewatch.reports.sql_counts import counts_document

    options = dict(zip(args[::2], args[1::2], strict=False))
    settings = load_settings(CONFIG, env={})
    seen: list[str] = []
    with connect(url) as db:
        assert isinstance(db.connection, sqlite3.Connection)
        db.connection.set_trace_callback(seen.append)
        counts_document(
            db,
            settings.trial.id,
            by=options.get("--by", "term"),
            min_grade=int(options["--min-grade"]) if "--min-grade" in options else None,
            related=options.get("--related"),
            cut=data_cut(options.get("--cut"), options.get("--as-of"), clock_now()),
        )
    return ";\n".join(s for s in seen if not s.startswith("PRAGMA")) + ";\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--aes", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=9)
    options = parser.parse_args(argv)
    shell = shutil.which("sqlite3")
    if shell is None:
        raise SystemExit("the sqlite3 shell is needed (apt-get install sqlite3; make system-deps)")
    folder = Path(tempfile.mkdtemp(prefix="aewatch-bench-"))
    database = folder / "bench.sqlite"
    url = f"sqlite:///{database}"
    env = {**os.environ, "AEWATCH_DATABASE_URL": url, "AEWATCH_CONFIG": str(CONFIG)}
    try:
        begin = time.perf_counter()
        build_synthetic_db(url, options.patients, options.aes)
        print(machine())
        print(
            f"# built {options.aes:,} AEs / {options.patients:,} patients in "
            f"{time.perf_counter() - begin:.1f} s; floors: the sqlite3 shell running the same"
            f" SQL, and {sys.executable} -c pass"
        )
        cases = (
            (["--by", "term", "--format", "json"], 2.0),
            (["--by", "soc", "--format", "json"], None),
            (["--by", "subject", "--min-grade", "3", "--related", "rt", "--format", "json"], None),
            (["--by", "term", "--as-of", "2025-06-30", "--format", "json"], None),
        )
        bare = lambda: wall([sys.executable, "-c", "pass"], env)  # noqa: E731
        for args, goal in cases:
            sql = statements(url, args[:-2])
            script = folder / "counts.sql"
            script.write_text(sql, encoding="utf-8")
            raw = lambda s=script: wall([shell, str(database), f".read {s}"])  # noqa: E731
            command = lambda a=args: wall(aewatch("counts", *a), env)  # noqa: E731
            floors, tasks = paired(raw, command, options.runs)
            label = "counts " + " ".join(args[:-2])
            print(ratio_line(label + " / sqlite3", floors, tasks, goal), flush=True)
            floors, tasks = paired(bare, command, max(3, options.runs // 3))
            print(ratio_line(label + " / python -c pass", floors, tasks, 10.0), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
