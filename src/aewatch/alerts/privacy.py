"""The last line of defence for ICH E6 4.11.1 / HIPAA Safe Harbor in alert content.

Rules build every context from named, coded fields (a whitelist). This module checks
the result at enqueue time, so a future rule that copies a raw record is refused
loudly instead of mailing a name or a birth date to a relay outside the hospital.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Keys that must never appear in an alert context, whatever the nesting.
FORBIDDEN_KEYS = frozenset(
    {
        "name", "names", "initials", "brthdtc", "birth_date", "date_of_birth", "dob", "age",
        "aeterm", "verbatim", "verbatim_term", "narrative", "comment", "comments",
        "address", "phone", "mrn", "medical_record_number", "hospital_number", "id_card",
        "onset_on", "aestdtc", "aeendtc", "email",
    }
)
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:T[0-9:.+Z-]*)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class PrivacyError(ValueError):
    """An alert context carried a field that may identify a person."""


def check_context(context: Mapping[str, Any], where: str = "context") -> None:
    for key, value in context.items():
        if str(key).lower() in FORBIDDEN_KEYS:
            raise PrivacyError(f"{where}.{key}: identifying field refused in alert content")
        if isinstance(value, Mapping):
            check_context(value, f"{where}.{key}")
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    check_context(item, f"{where}.{key}[{index}]")


def redact_dates(text: str) -> str:
    """Calendar dates re-identify people in a 36-patient trial (§7): keep them out."""
    return _ISO_DATE.sub("[date]", text)


def one_line(text: str, limit: int = 300) -> str:
    """Header-safe text: control characters (CR/LF injection) become spaces."""
    return _CONTROL.sub(" ", text).strip()[:limit]
