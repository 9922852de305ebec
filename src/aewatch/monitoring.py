"""Live stopping-rule evaluation inside the ingest transaction.

The boundary mathematics and the evaluable-patient logic are pure
(aewatch.safety.evaluation); this module only loads the two DataFrames they need,
persists each rule's status history and asks for a threshold alert when a rule's
state changes. Re-processing the same data gives the same status, so it writes
nothing and alerts nobody twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from aewatch import audit
from aewatch.alerts.requests import AlertRequest
from aewatch.config import Settings
from aewatch.db import frame_of
from aewatch.models import (
    AdverseEvent,
    AeVersion,
    LabResult,
    RtCourse,
    RuleStatusRecord,
    Subject,
)


def load_patients(session: Session, trial_pk: int) -> pd.DataFrame:
    """One row per subject: RT window, last contact, death and withdrawal dates."""
    subjects = frame_of(
        session,
        select(
            Subject.id,
            Subject.subject_id,
            Subject.died_on,
            Subject.withdrawn_on,
            Subject.last_contact_on,
        ).where(Subject.trial_pk == trial_pk),
        ["pk", "subject_id", "died_on", "withdrawn_on", "last_contact_on"],
    )
    courses = frame_of(
        session,
        select(RtCourse.subject_pk, func.min(RtCourse.start_on), func.max(RtCourse.end_on))
        .join(Subject, RtCourse.subject_pk == Subject.id)
        .where(Subject.trial_pk == trial_pk)
        .group_by(RtCourse.subject_pk),
        ["pk", "rt_start", "rt_end"],
    )
    contact_parts = union_all(
        select(
            LabResult.subject_pk.label("pk"), func.max(LabResult.collected_on).label("day")
        ).group_by(LabResult.subject_pk),
        select(
            AdverseEvent.subject_pk.label("pk"),
            func.max(func.coalesce(AeVersion.end_on, AeVersion.onset_on)).label("day"),
        )
        .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
        .group_by(AdverseEvent.subject_pk),
    ).subquery()
    contacts = frame_of(
        session,
        select(contact_parts.c.pk, func.max(contact_parts.c.day)).group_by(contact_parts.c.pk),
        ["pk", "data_contact"],
    )
    frame = subjects.merge(courses, on="pk", how="left").merge(contacts, on="pk", how="left")
    for column in (
        "died_on",
        "withdrawn_on",
        "last_contact_on",
        "rt_start",
        "rt_end",
        "data_contact",
    ):
        frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
    frame["last_contact"] = frame[["last_contact_on", "data_contact", "died_on", "rt_end"]].max(
        axis=1
    )
    return frame[["subject_id", "rt_start", "rt_end", "last_contact", "died_on", "withdrawn_on"]]


def load_events(session: Session, trial_pk: int) -> pd.DataFrame:
    """The current version of every AE (site-reported and derived)."""
    rows = session.execute(
        select(
            Subject.subject_id,
            AeVersion.onset_on,
            AeVersion.grade,
            AeVersion.ctcae_term,
            AeVersion.ctcae_soc,
            AeVersion.rt_relation,
            AeVersion.systemic_relation,
            AeVersion.serious,
            AdverseEvent.origin,
        )
        .join(AdverseEvent, AeVersion.ae_pk == AdverseEvent.id)
        .join(Subject, AdverseEvent.subject_pk == Subject.id)
        .where(AdverseEvent.trial_pk == trial_pk, AeVersion.is_current.is_(True))
    ).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "subject_id",
            "onset",
            "grade",
            "ctcae_term",
            "ctcae_soc",
            "rt_relation",
            "systemic_relation",
            "serious",
            "origin",
        ],
    )
    frame["onset"] = pd.to_datetime(frame["onset"]).dt.tz_localize("UTC")
    frame["grade"] = pd.to_numeric(frame["grade"]).astype("Int64")
    frame["serious"] = frame["serious"].astype(bool)
    frame["derived"] = frame["ctcae_term"].where(frame["origin"] == "syndrome")
    return frame.drop(columns=["origin"])


def evaluate_rules(
    session: Session, settings: Settings, trial_pk: int, now: datetime, actor: str
) -> list[AlertRequest]:
    """Evaluate every configured rule; persist changes; return threshold alerts."""
    if not settings.stopping_rules:
        return []
    from aewatch.alerts.rules import threshold_alert
    from aewatch.safety.evaluation import evaluate_rule

    patients = load_patients(session, trial_pk)
    events = load_events(session, trial_pk)
    statuses = [
        (rule, evaluate_rule(rule, patients, events, pd.Timestamp(now)))
        for rule in settings.stopping_rules
    ]
    table = [status_row(rule, status) for rule, status in statuses]
    requests: list[AlertRequest] = []
    for rule, status in statuses:
        last = session.scalars(
            select(RuleStatusRecord)
            .where(RuleStatusRecord.trial_pk == trial_pk, RuleStatusRecord.rule_name == rule.name)
            .order_by(RuleStatusRecord.id.desc())
            .limit(1)
        ).first()
        snapshot = (status.evaluable_n, status.toxic_n, status.state)
        if last is not None and (last.evaluable_n, last.toxic_n, last.state) == snapshot:
            continue
        previous_state = last.state if last else None
        session.add(
            RuleStatusRecord(
                trial_pk=trial_pk,
                rule_name=rule.name,
                evaluated_at=now,
                evaluable_n=status.evaluable_n,
                toxic_n=status.toxic_n,
                stop_at=status.stop_at,
                cushion=status.cushion,
                state=status.state,
                previous_state=previous_state,
                detail=status_detail(status),
            )
        )
        if previous_state == status.state:
            continue
        audit.record(
            session,
            at=now,
            actor=actor,
            action="rule status changed",
            entity="stopping_rule",
            entity_id=rule.name,
            detail={
                "from": previous_state,
                "to": status.state,
                "evaluable_n": status.evaluable_n,
                "toxic_n": status.toxic_n,
            },
            config_hash=settings.config_hash,
        )
        request = threshold_alert(
            rule.name,
            previous_state,
            status.state,
            table,
            list(status.toxic_subjects),
            settings,
            now,
        )
        if request is not None:
            requests.append(request)
    return requests


def status_row(rule: Any, status: Any) -> dict[str, Any]:
    """One line of the rules table, as alerts, `aewatch status` and the report show it."""
    return {
        "rule": rule.name,
        "state": status.state,
        "evaluable_n": status.evaluable_n,
        "toxic_n": status.toxic_n,
        "stop_at": status.stop_at,
        "cushion": status.cushion,
    }


def status_detail(status: Any) -> dict[str, Any]:
    return {
        "toxic_subjects": list(status.toxic_subjects),
        "evaluable_subjects": list(status.evaluable_subjects),
        "pending_subjects": list(status.pending_subjects),
        "crossed_at_n": getattr(status, "crossed_at_n", None),
    }


def boundary_rows(rule: Any) -> list[dict[str, Any]]:
    boundary = rule.boundary()
    return [{"n": n, "stop_at": b} for n, b in zip(boundary.looks, boundary.stop_at, strict=True)]
