"""The trial's exposure rules, as the pure functions need them (from the config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aewatch.exposure.vocabulary import Vocabulary, load_vocabulary


@dataclass(frozen=True)
class ExposureRules:
    alpha_beta_gy: float = 10.0
    min_bed_gy: float = 60.0
    course_gap_days: int = 14
    max_dose_per_fraction_gy: float = 25.0
    max_bed_gy: float = 200.0
    radiotherapy_terms: tuple[str, ...] = ()
    systemic_terms: tuple[str, ...] = ()
    liver_sites: tuple[str, ...] = ()
    other_sites: tuple[str, ...] = ()

    @property
    def vocabulary(self) -> Vocabulary:
        return load_vocabulary(
            self.radiotherapy_terms, self.systemic_terms, self.liver_sites, self.other_sites
        )


def exposure_rules(settings: Any) -> ExposureRules:
    """The rules of a trial's ``Settings`` ([radiotherapy] and [systemic_therapy])."""
    rt = settings.radiotherapy
    return ExposureRules(
        alpha_beta_gy=rt.alpha_beta_gy,
        min_bed_gy=rt.min_bed_gy,
        course_gap_days=rt.course_gap_days,
        max_dose_per_fraction_gy=rt.max_dose_per_fraction_gy,
        max_bed_gy=rt.max_bed_gy,
        radiotherapy_terms=rt.treatments,
        systemic_terms=settings.systemic_therapy.treatments,
        liver_sites=rt.liver_sites,
        other_sites=rt.other_sites,
    )
