"""What a write touched, so the stages after it know which subjects to regrade."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StoreResult:
    accepted: int = 0
    versions: int = 0
    new_subjects: list[str] = field(default_factory=list)
    touched_subjects: set[int] = field(default_factory=set)
    new_ae_versions: list[int] = field(default_factory=list)  # ae_versions.id
    lab_subjects: set[int] = field(default_factory=set)
    new_labs: list[Any] = field(default_factory=list)  # store.labs.NewLabs, written by grade
    course_ids: list[int] = field(default_factory=list)
    sites: set[str] = field(default_factory=set)

    def add(self, other: StoreResult) -> None:
        self.accepted += other.accepted
        self.versions += other.versions
        self.new_subjects.extend(other.new_subjects)
        self.touched_subjects |= other.touched_subjects
        self.new_ae_versions.extend(other.new_ae_versions)
        self.lab_subjects |= other.lab_subjects
        self.new_labs.extend(other.new_labs)
        self.course_ids.extend(other.course_ids)
        self.sites |= other.sites
