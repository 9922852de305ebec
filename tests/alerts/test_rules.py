"""Which AE versions, derived events and rule changes call for which alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aewatch.alerts.requests import ae_facts_from_record
from aewatch.alerts.rules import (
    DerivedEvent,
    ae_alerts,
    derived_event_alerts,
    deviation_alert,
    ingest_failure_alert,
    site_silence_alerts,
    threshold_alert,
)
from aewatch.config import Settings
from aewatch.safety.sae import is_serious, susar_assessment
from support import CONFIG, make_settings

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def trial_settings(tmp_path: Path) -> Settings:
    assert CONFIG.is_file()
    return make_settings(tmp_path, "sqlite:///unused.sqlite")


def test_the_first_serious_version_queues_an_sae_initial_with_a_24_hour_clock(
    make_facts, trial_settings
) -> None:
    (alert,) = ae_alerts(None, make_facts(), trial_settings, NOW)
    assert alert.kind == "sae-initial"
    assert alert.dedup_key == "sae-initial:NCT06261047:012-003:AE-7:v1"
    assert alert.priority == 1 and alert.requires_ack
    assert alert.recipients == trial_settings.alerts.sae
    assert alert.report_due_at == make_facts().aware_at + timedelta(hours=24)
    assert alert.context["ae"]["criteria"] == ["requires or prolongs hospitalisation"]


def test_reprocessing_the_same_version_asks_for_the_same_dedup_key(make_facts, trial_settings):
    first = ae_alerts(None, make_facts(), trial_settings, NOW)
    again = ae_alerts(None, make_facts(), trial_settings, NOW + timedelta(hours=3))
    assert [a.dedup_key for a in first] == [a.dedup_key for a in again]


def test_a_non_serious_ae_asks_for_nothing(make_facts, trial_settings) -> None:
    facts = make_facts(serious=False, hospitalisation=False, grade=3)
    assert ae_alerts(None, facts, trial_settings, NOW) == []


def test_a_criterion_without_aeser_still_makes_the_ae_serious(make_facts) -> None:
    assert is_serious(make_facts(serious=False, hospitalisation=False, medically_important=True))


def test_a_grade_upgrade_queues_a_follow_up_that_says_what_changed(make_facts, trial_settings):
    v1 = make_facts(grade=3)
    v2 = make_facts(grade=4, version=2, life_threatening=True)
    (alert,) = ae_alerts(v1, v2, trial_settings, NOW)
    assert alert.kind == "sae-followup"
    assert alert.dedup_key.endswith(":AE-7:v2")
    assert alert.context["followup_reasons"] == ["grade 3 → 4", "criterion added: life-threatening"]


def test_recovery_is_news_but_a_downgrade_or_cosmetic_change_is_not(make_facts, trial_settings):
    v1 = make_facts()
    recovered = make_facts(version=2, outcome="RECOVERED/RESOLVED")
    downgraded = make_facts(version=2, grade=3)
    assert ae_alerts(v1, recovered, trial_settings, NOW)[0].kind == "sae-followup"
    assert ae_alerts(v1, downgraded, trial_settings, NOW) == []
    assert ae_alerts(v1, make_facts(version=2), trial_settings, NOW) == []


def test_a_death_has_top_priority_and_its_own_subject(make_facts, trial_settings) -> None:
    from aewatch.alerts.render import render_subject

    v1 = make_facts()
    v2 = make_facts(version=2, grade=5, death=True, outcome="FATAL")
    (alert,) = ae_alerts(v1, v2, trial_settings, NOW)
    assert (alert.kind, alert.priority) == ("death", 0)
    assert alert.dedup_key == "death:NCT06261047:012-003:AE-7"
    assert render_subject(alert.kind, alert.context) == (
        "[DEATH][NCT06261047] 012-003 Grade 5 Hepatic failure"
    )


def test_related_unexpected_fatal_event_may_be_a_susar_on_the_7_day_clock(
    make_facts, trial_settings
) -> None:
    facts = make_facts(grade=5, death=True)
    (alert,) = ae_alerts(None, facts, trial_settings, NOW)
    clock = alert.context["clock"]
    assert clock["susar_possible"] and clock["susar_treatments"] == ["radiotherapy"]
    assert [d["key"] for d in clock["deadlines"]] == [
        "sponsor-notification", "susar-7d", "susar-followup"]
    assert clock["deadlines"][1]["due_at"] == (facts.aware_at + timedelta(days=7)).isoformat()


def test_an_expected_or_unrelated_term_is_not_a_susar(make_facts, trial_settings) -> None:
    expected = make_facts(ctcae_term="Ascites")  # on the radiotherapy expected list
    unrelated = make_facts(rt_relation="unlikely", systemic_relation="unrelated")
    for facts in (expected, unrelated):
        assert not susar_assessment(facts, trial_settings.expected.radiotherapy,
                                    trial_settings.expected.systemic).possible


def test_a_non_fatal_susar_runs_on_the_15_day_clock(make_facts, trial_settings) -> None:
    (alert,) = ae_alerts(None, make_facts(), trial_settings, NOW)
    assert [d["key"] for d in alert.context["clock"]["deadlines"]] == [
        "sponsor-notification", "susar-15d"]


def test_facts_from_an_export_record_read_only_whitelisted_fields(trial_settings) -> None:
    from aewatch.alerts.render import OutgoingAlert, render_message

    record = {
        "USUBJID": "012-003", "AESPID": "AE-7", "AEDECOD": "Hepatic failure", "AETOXGR": "4",
        "AESER": "Y", "AESHOSP": "Y", "AEREL": "PROBABLE", "AERELSYS": "UNLIKELY",
        "AESTDTC": "2026-02-20", "AEOUT": "NOT RECOVERED/NOT RESOLVED",
        "NAME": "Zhang Wei", "INITIALS": "ZW", "BRTHDTC": "1951-07-04", "AGE": "74",
        "AETERM": "liver failure, Mr Zhang Wei, MRN 448812",
        "NARRATIVE": "Patient Zhang Wei admitted via ED at Ward 7B",
    }
    from datetime import date

    facts = ae_facts_from_record(record, trial_id="NCT06261047", site="012", aware_at=NOW,
                                 reference_start=date(2026, 1, 9))
    (alert,) = ae_alerts(None, facts, trial_settings, NOW)
    outgoing = OutgoingAlert(
        id=1, trial_id="NCT06261047", kind=alert.kind, dedup_key=alert.dedup_key,
        priority=alert.priority, subject_line="[SAE] test", recipients=alert.recipients,
        message_id="<x@aewatch.NCT06261047>", created_at=NOW, requires_ack=True,
        context=alert.context)
    message = render_message(outgoing, from_address="aewatch@example.org", now=NOW)
    raw = "".join(part.get_content() for part in message.iter_parts())
    raw += "".join(f"{k}: {v}" for k, v in message.items())
    for secret in ("Zhang", "Wei", "ZW", "1951", "448812", "Ward 7B", "2026-02-20", "74 "):
        assert secret not in raw
    assert "study day 43" in raw


def test_a_context_with_an_identifying_key_is_refused() -> None:
    from aewatch.alerts.privacy import PrivacyError, check_context

    with pytest.raises(PrivacyError, match="initials"):
        check_context({"subject_id": "012-003", "ae": {"initials": "ZW"}})


def test_liver_events_alert_and_lab_grades_alert_only_without_a_site_ae(trial_settings):
    common = {"trial_id": "NCT06261047", "site": "012", "subject_id": "012-003",
              "study_day": 61, "grade": 3}
    hys = DerivedEvent(kind="hys-law", event_key="day61", term="Hy's law",
                       evidence="ALT 5.1 x ULN on 2026-03-10 and bilirubin 2.3 x ULN", **common)
    lab = DerivedEvent(kind="lab-derived", event_key="ALT:day61", term="ALT increased",
                       evidence="ALT 5.1 x ULN", **common)
    reported = DerivedEvent(kind="lab-derived", event_key="AST:day61", term="AST increased",
                            evidence="AST 5.3 x ULN", site_reported=True, **common)
    alerts = derived_event_alerts([hys, lab, reported], trial_settings, NOW)
    assert [(a.kind, a.priority) for a in alerts] == [("liver-event", 2), ("lab-derived", 3)]
    assert alerts[0].context["evidence"] == "ALT 5.1 x ULN on [date] and bilirubin 2.3 x ULN"


def test_a_threshold_crossing_is_keyed_by_rule_state_and_evaluable_n(trial_settings) -> None:
    table = [{"rule": "grade3-rt-related", "evaluable_n": 12, "toxic_n": 5, "stop_at": 5}]
    alert = threshold_alert("grade3-rt-related", "approaching", "crossed", table,
                            ["012-003", "011-001"], trial_settings, NOW)
    assert alert is not None
    assert alert.dedup_key == "threshold:NCT06261047:grade3-rt-related:crossed:n12"
    assert alert.recipients == trial_settings.alerts.threshold and alert.requires_ack
    assert threshold_alert("grade3-rt-related", "ok", "ok", table, [], trial_settings, NOW) is None


def test_deviation_and_ingest_failure_alerts_are_keyed_by_their_cause(trial_settings) -> None:
    deviation = deviation_alert("012-003", "012", "C1", "segment 7", 59.99, 60.0, trial_settings)
    assert deviation.dedup_key == "deviation:NCT06261047:012-003:C1"
    failure = ingest_failure_alert("ae_012.csv", "not valid CSV", trial_settings, NOW)
    again = ingest_failure_alert("ae_012.csv", "not valid CSV", trial_settings, NOW)
    assert failure.dedup_key == again.dedup_key
    assert failure.recipients == trial_settings.alerts.fallback


def test_a_silent_site_alerts_once_per_silence_period(trial_settings) -> None:
    last = NOW - timedelta(days=31)
    first = site_silence_alerts({"012": last, "011": NOW}, trial_settings, NOW)
    later = site_silence_alerts({"012": last}, trial_settings, NOW + timedelta(days=5))
    period_two = site_silence_alerts({"012": last}, trial_settings, NOW + timedelta(days=30))
    assert [a.context["site"] for a in first] == ["012"]
    assert first[0].dedup_key == later[0].dedup_key != period_two[0].dedup_key
