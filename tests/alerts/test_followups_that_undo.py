"""Changes that take back what an SAE alert said are follow-ups too (ICH E2D 5.3): a
downgrade to non-serious, a fatal outcome withdrawn and an attribution changed from
related to unrelated each reach the SAE's recipients once, on the SAE's thread."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aewatch.alerts.sender import drain
from aewatch.clock import ManualClock
from aewatch.models import Alert
from aewatch.pipeline import Pipeline

DM = "USUBJID,SITEID,RFXSTDTC\n08-001,08,2026-01-05\n08-002,08,2026-01-05\n08-003,08,2026-01-05\n"
EX = (
    "USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXSTDTC,EXENDTC\n"
    "08-001,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-09\n"
    "08-002,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-09\n"
    "08-003,RT1,SBRT,8,Gy,5,2026-01-05,2026-01-09\n"
)
HEADER = "USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AESHOSP,AESLIFE,AESDTH,AEOUT,AEREL,AESTDTC\n"
REPORTED = HEADER + (
    "08-001,AE-1,ULCER,Duodenal ulcer,3,Y,Y,N,N,NOT RECOVERED/NOT RESOLVED,PROBABLE,2026-01-20\n"
    "08-002,AE-1,LIVER,Hepatic failure,5,Y,N,N,Y,FATAL,PROBABLE,2026-01-20\n"
    "08-003,AE-1,ASCITES,Ascites,3,Y,Y,N,N,NOT RECOVERED/NOT RESOLVED,PROBABLE,2026-01-20\n"
)
CORRECTED = HEADER + (
    # Not serious after all: the admission was planned.
    "08-001,AE-1,ULCER,Duodenal ulcer,3,N,N,N,N,NOT RECOVERED/NOT RESOLVED,PROBABLE,2026-01-20\n"
    # The patient did not die: grade 4, life-threatening, still serious.
    "08-002,AE-1,LIVER,Hepatic failure,4,Y,N,Y,N,NOT RECOVERED/NOT RESOLVED,PROBABLE,2026-01-20\n"
    # The investigator re-assessed the cause: tumour progression, not RT.
    "08-003,AE-1,ASCITES,Ascites,3,Y,Y,N,N,NOT RECOVERED/NOT RESOLVED,UNRELATED,2026-01-20\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_downgrade_a_withdrawn_death_and_an_unrelated_attribution_each_follow_up_once(
    settings: Any, sessions: Any, tmp_path: Path, smtp_server: Any
) -> None:
    settings = replace(settings, smtp=smtp_server.settings())
    clock = ManualClock(datetime(2026, 1, 22, 8, tzinfo=UTC))
    pipeline = Pipeline(settings, sessions, clock, "w1")
    pipeline.ingest_paths(
        [write(tmp_path, n, t) for n, t in (("dm.csv", DM), ("ex.csv", EX), ("ae.csv", REPORTED))]
    )
    drain(sessions, settings, clock, worker_id="w1")
    clock.advance(days=2)
    pipeline.ingest_paths([write(tmp_path, "ae_corrected.csv", CORRECTED)])
    drain(sessions, settings, clock, worker_id="w1")
    # A later re-export of the same data asks for nothing new.
    clock.advance(days=1)
    pipeline.ingest_paths([write(tmp_path, "ae_again.csv", CORRECTED + "\n")])
    drain(sessions, settings, clock, worker_id="w1")

    messages = [r.message for r in smtp_server.received]
    first = {
        m["Subject"].split("] ")[1].split(" ")[0]: m
        for m in messages
        if m["Subject"].startswith(("[SAE]", "[DEATH]"))
    }
    followups = [m for m in messages if m["Subject"].startswith("[SAE FOLLOW-UP]")]
    by_subject = {m["Subject"].split("] ")[1].split(" ")[0]: m for m in followups}
    assert len(followups) == 3 and set(by_subject) == {"08-001", "08-002", "08-003"}
    changed = {
        subject: _what_changed(message.get_body(("plain",)).get_content())
        for subject, message in by_subject.items()
    }
    assert changed == {
        "08-001": ["downgraded to non-serious"],
        "08-002": [
            "fatal outcome withdrawn (outcome now: not recovered/not resolved)",
            "criterion added: life-threatening",
        ],
        "08-003": ["attribution to RT: probable → unrelated (no longer related)"],
    }
    for subject, message in by_subject.items():
        original = first[subject]
        assert message["In-Reply-To"] == original["Message-ID"]
        assert original["Message-ID"] in message["References"]
        assert message["To"] == original["To"]
    downgraded = by_subject["08-001"].get_body(("plain",)).get_content()
    assert "Seriousness:                not serious (downgraded)" in downgraded
    with sessions() as session:
        keys = sorted(
            session.scalars(select(Alert.dedup_key).where(Alert.kind == "sae-followup")).all()
        )
    assert keys == [
        f"sae-followup:{settings.trial.id}:{s}:AE-1:v2" for s in ("08-001", "08-002", "08-003")
    ]


def _what_changed(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("What changed:") + 1
    out = []
    for line in lines[start:]:
        if not line.startswith("  - "):
            break
        out.append(line[4:])
    return out
