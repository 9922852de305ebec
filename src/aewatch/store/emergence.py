"""Worsening after RT, materialised (aewatch.safety.emergence decides).

Once a subject's first RT day is known, every site AE of theirs that began before it is
read with all its versions; one whose grade rose after RT is split: its current version
shows the pre-RT content (a new version, or, when the site's version was written in this
same transaction, that version), and the worsening is an AE of its own
(``<key>~worsened``, origin "site"), so every reader — counts, rules, status, report
tables — sees a pre-RT AE and an emergent one without knowing about the split.

Idempotent: the pre-RT AE keeps the site's content hash (a re-export of the same records
is still a no-op), and the worsening is written only when its content changes. A
correction re-splits through new versions; a worsening that no longer holds is withdrawn
by a version without a grade (kept, never deleted).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aewatch.models import AdverseEvent, AeVersion, RtCourse
from aewatch.safety.emergence import (
    BY_RECORD,
    CRITERIA,
    WORSENED_SUFFIX,
    Split,
    Step,
    Version,
    aggregate,
    split_worsening,
    steps_of,
    summary,
)

VERSIONS = AeVersion.__table__
EVENTS = AdverseEvent.__table__
# What the split changes on the pre-RT AE (the rest of its version is the site's).
PARENT_FIELDS = (
    "grade",
    "severity",
    *CRITERIA,
    "rt_relation",
    "systemic_relation",
    "end_on",
    "outcome",
    "evidence",
)
# What a worsening takes from the AE it worsens: the term and its coding.
CODING_FIELDS = (
    "verbatim_term",
    "decoded_term",
    "body_system",
    "ctcae_term",
    "ctcae_soc",
    "meddra_code",
    "coding",
    "dictionary_version",
)


@dataclass
class Worsenings:
    """What one pass wrote: versions of worsening AEs (``news``: those to alert on,
    because the site's version behind them arrived now), and an audit line each."""

    versions: int = 0
    worsening_versions: list[int] = field(default_factory=list)
    news: list[int] = field(default_factory=list)
    subjects: set[int] = field(default_factory=set)
    changes: list[dict[str, Any]] = field(default_factory=list)


def split_worsenings(
    session: Session,
    subject_pks: Iterable[int],
    written_now: set[int],
    now: datetime,
) -> Worsenings:
    """Split (or re-split, or withdraw) the worsenings of these subjects' site AEs.

    ``written_now``: ids of AE versions written in this transaction (the site's news:
    updated in place rather than followed by a second version)."""
    out = Worsenings()
    pks = sorted(set(subject_pks))
    if not pks:
        return out
    first_rt = first_rt_days(session, pks)
    candidates = _candidates(session, pks, first_rt)
    if not candidates:
        return out
    history = _versions(session, [pk for pk, _, _ in candidates.values()])
    parents = {
        key: value for key, value in candidates.items() if not key[1].endswith(WORSENED_SUFFIX)
    }
    for (subject_pk, key), (ae_pk, _, _) in sorted(parents.items()):
        rows = history.get(ae_pk, [])
        if not rows:
            continue
        worsened = candidates.get((subject_pk, key + WORSENED_SUFFIX))
        worsened_rows = history.get(worsened[0], []) if worsened else []
        split = split_worsening(steps_of(_version(row) for row in rows), first_rt.get(subject_pk))
        _apply(
            session,
            out,
            subject_pk,
            key,
            rows,
            worsened,
            worsened_rows[-1] if worsened_rows else None,
            split,
            first_rt.get(subject_pk),
            written_now,
            now,
        )
    return out


def first_rt_days(session: Session, subject_pks: list[int]) -> dict[int, date]:
    """The first RT day of each subject with a dated course."""
    rows = session.execute(
        select(RtCourse.subject_pk, func.min(RtCourse.start_on))
        .where(RtCourse.subject_pk.in_(subject_pks), RtCourse.start_on.is_not(None))
        .group_by(RtCourse.subject_pk)
    ).all()
    return {int(s): d for s, d in rows if d is not None}


def _candidates(
    session: Session, pks: list[int], first_rt: dict[int, date]
) -> dict[tuple[int, str], tuple[int, str, int]]:
    """(subject, key) → (AE id, key, subject) of the site AEs that may split: those whose
    current onset is before the first RT day, the worsenings already stored, and the AEs
    those worsen (so a split that no longer holds is undone)."""
    # A subject without a dated RT course has nothing to split: only its stored
    # worsenings (and the AEs they worsen) are read, to undo a split that no longer holds.
    with_rt = [pk for pk in pks if pk in first_rt]
    rows = _current_site_events(
        session,
        pks,
        AdverseEvent.subject_pk.in_(with_rt) | AdverseEvent.ae_key.like(f"%{WORSENED_SUFFIX}"),
    )
    parents = {
        (int(subject_pk), key.removesuffix(WORSENED_SUFFIX))
        for _, subject_pk, key, _, _ in rows
        if key.endswith(WORSENED_SUFFIX) and int(subject_pk) not in first_rt
    }
    if parents:
        keys = sorted({key for _, key in parents})
        rows += [
            row
            for row in _current_site_events(
                session, sorted({pk for pk, _ in parents}), AdverseEvent.ae_key.in_(keys)
            )
            if (int(row[1]), row[2]) in parents
        ]
    found: dict[tuple[int, str], tuple[int, str, int]] = {}
    worsened_of: set[tuple[int, str]] = set()
    for ae_pk, subject_pk, key, onset_on, onset_until in rows:
        entry = (int(ae_pk), str(key), int(subject_pk))
        if key.endswith(WORSENED_SUFFIX):
            found[(int(subject_pk), key)] = entry
            worsened_of.add((int(subject_pk), key.removesuffix(WORSENED_SUFFIX)))
            continue
        start, last = first_rt.get(int(subject_pk)), onset_until or onset_on
        if start is not None and last is not None and last < start:
            found[(int(subject_pk), key)] = entry
    for ae_pk, subject_pk, key, _, _ in rows:
        if (int(subject_pk), key) in worsened_of:
            found[(int(subject_pk), key)] = (int(ae_pk), str(key), int(subject_pk))
    return found


def _current_site_events(session: Session, pks: list[int], condition: Any) -> list[Any]:
    """(AE id, subject, key, onset, onset_until) of these subjects' current site AEs."""
    return list(
        session.connection().execute(
            select(
                AdverseEvent.id,
                AdverseEvent.subject_pk,
                AdverseEvent.ae_key,
                AeVersion.onset_on,
                AeVersion.onset_until,
            )
            .join(AeVersion, (AeVersion.ae_pk == AdverseEvent.id) & AeVersion.is_current)
            .where(AdverseEvent.subject_pk.in_(pks), AdverseEvent.origin == "site", condition)
        )
    )


def _versions(session: Session, ae_pks: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Every version of these AEs, oldest first, as plain mappings."""
    out: dict[int, list[dict[str, Any]]] = {}
    for start in range(0, len(ae_pks), 500):
        chunk = ae_pks[start : start + 500]
        rows = session.execute(
            select(VERSIONS)
            .where(VERSIONS.c.ae_pk.in_(chunk))
            .order_by(VERSIONS.c.ae_pk, VERSIONS.c.version)
        ).mappings()
        for row in rows:
            out.setdefault(int(row["ae_pk"]), []).append(dict(row))
    return out


def site_records(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The records the site sent for this version: its log-form records, else the one
    record its own fields are."""
    evidence = row.get("evidence")
    if isinstance(evidence, dict) and isinstance(evidence.get("records"), list):
        return list(evidence["records"])
    record: dict[str, Any] = {
        "row": row.get("source_row"),
        "onset_on": _iso(row.get("onset_on")),
        "end_on": _iso(row.get("end_on")),
        "grade": row.get("reported_grade"),
        "onset_precision": row.get("onset_precision"),
        "severity": row.get("severity"),
        "rt_relation": row.get("rt_relation"),
        "systemic_relation": row.get("systemic_relation"),
        "outcome": row.get("outcome"),
    }
    for name in CRITERIA:
        record[name] = bool(row.get(name))
    return [record]


def _version(row: dict[str, Any]) -> Version:
    return Version(site_records(row), row.get("aware_at"), row.get("aware_at_supplied"))


def _apply(
    session: Session,
    out: Worsenings,
    subject_pk: int,
    key: str,
    rows: list[dict[str, Any]],
    worsened: tuple[int, str, int] | None,
    worsened_current: dict[str, Any] | None,
    split: Split | None,
    first_rt: date | None,
    written_now: set[int],
    now: datetime,
) -> None:
    current = rows[-1]
    records = site_records(current)
    evidence = dict(current.get("evidence") or {})
    was_split = "emergence" in evidence
    if split is None and not was_split and worsened_current is None:
        return
    news = int(current["id"]) in written_now
    parent: dict[str, Any] | None = None
    if split is not None:
        parent = aggregate(split.before)
        parent["evidence"] = {
            **evidence,
            "records": records,
            "emergence": {
                "worsened": key + WORSENED_SUFFIX,
                "pre_rt_grade": split.pre_rt_grade,
                "first_rt_on": _iso(first_rt),
            },
        }
    elif was_split:
        # No longer split: the site's content again, as its records merge.
        parent = aggregate(
            [Step(None, None, None, r.get("grade"), BY_RECORD, r, None, None) for r in records]
        )
        parent["evidence"] = {k: v for k, v in evidence.items() if k != "emergence"}
    if parent is not None and any(
        _differs(current.get(name), parent[name]) for name in PARENT_FIELDS
    ):
        _write_parent(session, current, parent, in_place=news, now=now)
        out.versions += 0 if news else 1
        out.subjects.add(subject_pk)
    content = _worsening(key, current, split, first_rt) if split is not None else None
    if content is None:
        if worsened_current is None or worsened_current.get("grade") is None:
            return
        content = _withdrawn(key, worsened_current)
    if worsened_current is not None and worsened_current["content_hash"] == content["content_hash"]:
        return
    version_id = _write_worsening(
        session, subject_pk, key, worsened, worsened_current, content, now
    )
    out.versions += 1
    out.worsening_versions.append(version_id)
    out.subjects.add(subject_pk)
    if news:
        out.news.append(version_id)
    out.changes.append(
        {
            "ae_key": key + WORSENED_SUFFIX,
            "worsening_of": key,
            "grade": content["grade"],
            "onset_on": _iso(content["onset_on"]),
            "summary": (content["evidence"] or {}).get("summary"),
        }
    )


def _worsening(
    key: str, current: dict[str, Any], split: Split, first_rt: date | None
) -> dict[str, Any]:
    """The worsening AE's content: the steps after RT, dated by the first of them."""
    first = split.first
    content = {name: current.get(name) for name in CODING_FIELDS}
    content.update(aggregate(split.worsening))
    content.update(
        {
            "reported_grade": content["grade"],
            "onset_on": first.day,
            "onset_precision": first.precision,
            "onset_until": first.until,
            "end_precision": None,
            "action_taken": None,
            "aeseq": None,
            "source_file_pk": current.get("source_file_pk"),
            "source_row": first.record.get("row") or current.get("source_row"),
            "aware_at": first.aware_at,
            "aware_at_supplied": first.aware_supplied,
            "implausible": None,
            "evidence": {
                "summary": summary(key, split),
                "worsening_of": key,
                "pre_rt_grade": split.pre_rt_grade,
                "dated_by": first.dated_by,
                "first_rt_on": _iso(first_rt),
            },
        }
    )
    content["content_hash"] = _hash(content)
    return content


def _withdrawn(key: str, current: dict[str, Any]) -> dict[str, Any]:
    """The worsening no longer holds (a corrected grade or date, RT re-dated): a version
    without a grade, so nothing counts it; its history stays."""
    content = {
        name: current.get(name)
        for name in (
            *CODING_FIELDS,
            "onset_on",
            "onset_precision",
            "onset_until",
            "end_on",
            "end_precision",
            "outcome",
            "severity",
            "rt_relation",
            "systemic_relation",
            "action_taken",
            "aeseq",
            "source_file_pk",
            "source_row",
            "aware_at",
            "aware_at_supplied",
            "implausible",
        )
    }
    content.update({name: False for name in CRITERIA})
    content.update(
        {
            "grade": None,
            "reported_grade": None,
            "evidence": {
                "summary": f"withdrawn: {key} no longer shows a higher grade after RT than "
                "before it (its records or the first RT day were corrected)",
                "worsening_of": key,
                "withdrawn": True,
            },
        }
    )
    content["content_hash"] = _hash(content)
    return content


def _write_parent(
    session: Session,
    current: dict[str, Any],
    parent: dict[str, Any],
    *,
    in_place: bool,
    now: datetime,
) -> None:
    changes = {name: parent[name] for name in PARENT_FIELDS}
    if in_place:
        session.execute(update(VERSIONS).where(VERSIONS.c.id == current["id"]).values(**changes))
        return
    row = {k: v for k, v in current.items() if k != "id"}
    row.update(changes)
    row.update(version=int(current["version"]) + 1, is_current=True, recorded_at=now)
    _retire(session, int(current["ae_pk"]), row["version"])
    session.execute(VERSIONS.insert(), [row])


def _write_worsening(
    session: Session,
    subject_pk: int,
    key: str,
    worsened: tuple[int, str, int] | None,
    current: dict[str, Any] | None,
    content: dict[str, Any],
    now: datetime,
) -> int:
    if worsened is None:
        trial_pk = session.execute(
            select(AdverseEvent.trial_pk).where(
                AdverseEvent.subject_pk == subject_pk, AdverseEvent.ae_key == key
            )
        ).scalar_one()
        ae_pk = session.execute(
            EVENTS.insert().returning(EVENTS.c.id),
            [
                {
                    "trial_pk": trial_pk,
                    "subject_pk": subject_pk,
                    "ae_key": key + WORSENED_SUFFIX,
                    "origin": "site",
                    "current_version": 1,
                    "created_at": now,
                }
            ],
        ).scalar_one()
        version = 1
    else:
        ae_pk = worsened[0]
        version = int(current["version"]) + 1 if current is not None else 1
        _retire(session, ae_pk, version)
    row = {
        **content,
        "ae_pk": int(ae_pk),
        "version": version,
        "is_current": True,
        "recorded_at": now,
    }
    return int(session.execute(VERSIONS.insert().returning(VERSIONS.c.id), [row]).scalar_one())


def _retire(session: Session, ae_pk: int, version: int) -> None:
    """The AE's current version is no longer current; ``version`` is."""
    session.execute(
        update(VERSIONS)
        .where(VERSIONS.c.ae_pk == ae_pk, VERSIONS.c.is_current.is_(True))
        .values(is_current=False)
    )
    session.execute(update(EVENTS).where(EVENTS.c.id == ae_pk).values(current_version=version))


def _differs(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, datetime):
        stored = stored.date()
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return bool(stored) != bool(wanted)
    return stored != wanted


def _hash(content: dict[str, Any]) -> str:
    text = json.dumps(
        {k: _iso(v) if isinstance(v, (date, datetime)) else v for k, v in content.items()},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]
