"""Controlled terminology as sites really write it, normalised explicitly.

Every mapping here is documented in docs/ingest.md. Anything not listed is
rejected with a reason rather than guessed.
"""

from __future__ import annotations

YES_NO: dict[str, str] = {
    "Y": "Y",
    "YES": "Y",
    "TRUE": "Y",
    "1": "Y",
    "N": "N",
    "NO": "N",
    "FALSE": "N",
    "0": "N",
}

# The five-level attribution scale (CTEP): unrelated, unlikely, possible, probable, definite.
RELATIONSHIP: dict[str, str] = {
    "UNRELATED": "unrelated",
    "NOT RELATED": "unrelated",
    "NONE": "unrelated",
    "NO": "unrelated",
    "N": "unrelated",
    "DEFINITELY NOT RELATED": "unrelated",
    "UNLIKELY": "unlikely",
    "UNLIKELY RELATED": "unlikely",
    "REMOTE": "unlikely",
    "DOUBTFUL": "unlikely",
    "PROBABLY NOT RELATED": "unlikely",
    "POSSIBLE": "possible",
    "POSSIBLY": "possible",
    "POSSIBLY RELATED": "possible",
    # A binary "related" answer: the weakest related level; it still counts as related.
    "RELATED": "possible",
    "Y": "possible",
    "YES": "possible",
    "PROBABLE": "probable",
    "PROBABLY": "probable",
    "PROBABLY RELATED": "probable",
    "LIKELY": "probable",
    "DEFINITE": "definite",
    "DEFINITELY": "definite",
    "DEFINITELY RELATED": "definite",
    "CERTAIN": "definite",
    # Chinese CRF wording; 无法判定 (cannot be judged) is treated as related (CDE 2018).
    "肯定有关": "definite",
    "很可能有关": "probable",
    "可能有关": "possible",
    "可能无关": "unlikely",
    "肯定无关": "unrelated",
    "无法判定": "possible",
}

OUTCOMES: dict[str, str] = {
    "RECOVERED/RESOLVED": "RECOVERED/RESOLVED",
    "RECOVERED": "RECOVERED/RESOLVED",
    "RESOLVED": "RECOVERED/RESOLVED",
    "RECOVERING/RESOLVING": "RECOVERING/RESOLVING",
    "RECOVERING": "RECOVERING/RESOLVING",
    "RESOLVING": "RECOVERING/RESOLVING",
    "NOT RECOVERED/NOT RESOLVED": "NOT RECOVERED/NOT RESOLVED",
    "NOT RECOVERED": "NOT RECOVERED/NOT RESOLVED",
    "NOT RESOLVED": "NOT RECOVERED/NOT RESOLVED",
    "ONGOING": "NOT RECOVERED/NOT RESOLVED",
    "RECOVERED/RESOLVED WITH SEQUELAE": "RECOVERED/RESOLVED WITH SEQUELAE",
    "RECOVERED WITH SEQUELAE": "RECOVERED/RESOLVED WITH SEQUELAE",
    "FATAL": "FATAL",
    "DEATH": "FATAL",
    "DIED": "FATAL",
    "UNKNOWN": "UNKNOWN",
}

OLIGOPROGRESSION: dict[str, str] = {
    "METACHRONOUS": "metachronous",
    "METACHRONOUS OLIGOPROGRESSION": "metachronous",
    "REPEAT": "repeat",
    "REPEAT OLIGOPROGRESSION": "repeat",
    "INDUCED": "induced",
    "INDUCED OLIGOPROGRESSION": "induced",
}

# Unit spellings → one canonical spelling (the CTCAE grader converts between units).
UNITS: dict[str, str] = {
    "GI/L": "10^9/L",
    "10^9/L": "10^9/L",
    "10E9/L": "10^9/L",
    "X10^9/L": "10^9/L",
    "10**9/L": "10^9/L",
    "G/L": "g/L",
    "G/DL": "g/dL",
    "MMOL/L": "mmol/L",
    "UMOL/L": "umol/L",
    "µMOL/L": "umol/L",
    "μMOL/L": "umol/L",
    "U/L": "U/L",
    "IU/L": "U/L",
    "MG/DL": "mg/dL",
    "TI/L": "10^12/L",
    "10^12/L": "10^12/L",
    "RATIO": "ratio",
    "10^3/UL": "10^3/uL",
    "K/UL": "10^3/uL",
    "S": "s",
    "SEC": "s",
    "%": "%",
}

# SDTM DS: the decoded term (DSDECOD) of a disposition event → what it means for the
# trial. CDISC codelist NCOMPLT ("Completion/Reason for Non-Completion") plus the events
# this trial follows (progression, start of second-line systemic therapy) and Chinese CRF
# wording. A disposition event with a term not listed is kept as "other" with a data
# query; protocol milestones and other events (DSCAT) are kept as such.
DISPOSITION_EVENT = "DISPOSITION EVENT"
DISPOSITION_CATEGORIES = {
    "PROTOCOL MILESTONE": "milestone",
    "OTHER EVENT": "other event",
}
DISPOSITIONS: dict[str, str] = {
    "DEATH": "death",
    "DIED": "death",
    "死亡": "death",
    "PROGRESSIVE DISEASE": "progression",
    "DISEASE PROGRESSION": "progression",
    "PROGRESSION": "progression",
    "RADIOLOGICAL PROGRESSION": "progression",
    "CLINICAL PROGRESSION": "progression",
    "疾病进展": "progression",
    "SECOND-LINE THERAPY": "second-line therapy",
    "SECOND LINE THERAPY": "second-line therapy",
    "SECOND-LINE SYSTEMIC THERAPY": "second-line therapy",
    "STARTED SECOND-LINE THERAPY": "second-line therapy",
    "SLST": "second-line therapy",
    "二线治疗": "second-line therapy",
    "LOST TO FOLLOW-UP": "lost to follow-up",
    "LOST TO FOLLOW UP": "lost to follow-up",
    "失访": "lost to follow-up",
    "WITHDRAWAL BY SUBJECT": "withdrawal",
    "WITHDRAWAL OF CONSENT": "withdrawal",
    "CONSENT WITHDRAWN": "withdrawal",
    "WITHDRAWAL BY PARENT/GUARDIAN": "withdrawal",
    "撤回知情同意": "withdrawal",
    "ADVERSE EVENT": "adverse event",
    "COMPLETED": "completed",
    "PROTOCOL COMPLETED": "completed",
    "SCREEN FAILURE": "screen failure",
    "PHYSICIAN DECISION": "physician decision",
    "LACK OF EFFICACY": "lack of efficacy",
    "PROTOCOL VIOLATION": "protocol deviation",
    "PROTOCOL DEVIATION": "protocol deviation",
    "NON-COMPLIANCE WITH STUDY DRUG": "protocol deviation",
    "STUDY TERMINATED BY SPONSOR": "study terminated",
    "SITE TERMINATED BY SPONSOR": "study terminated",
    "PREGNANCY": "other",
    "OTHER": "other",
}

# SDTM domain names aewatch reads, and file-name stems that imply them.
DOMAINS = ("DM", "AE", "LB", "EX", "DS")
FILE_STEMS: dict[str, str] = {
    "dm": "DM",
    "ae": "AE",
    "lb": "LB",
    "ex": "EX",
    "ds": "DS",
    "lbch": "LB",
    "lbhe": "LB",
    "lbur": "LB",
    "demographics": "DM",
    "adverse_events": "AE",
    "adverseevents": "AE",
    "labs": "LB",
    "laboratory": "LB",
    "exposure": "EX",
    "radiotherapy": "EX",
    "rt": "EX",
    "disposition": "DS",
}
