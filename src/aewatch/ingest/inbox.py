"""The inbox folder: claim a file by atomic rename, then file it as done or failed.

Layout (all inside the inbox, so one mount serves everything):
  inbox/                 sites drop files here
  inbox/processing/<worker>/   claimed, being ingested (re-claimed by that worker on restart)
  inbox/done/            ingested (or a duplicate of an ingested file)
  inbox/failed/          unreadable; a `<file>.reason.txt` beside it says why
A rename within one filesystem is atomic, so two workers never claim the same file.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".swp", ".reason.txt")


@dataclass(frozen=True)
class Inbox:
    root: Path
    worker_id: str
    settle_seconds: float = 0.0

    @property
    def processing(self) -> Path:
        return self.root / "processing" / _safe(self.worker_id)

    @property
    def done(self) -> Path:
        return self.root / "done"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    def ensure(self) -> None:
        for folder in (self.root, self.processing, self.done, self.failed):
            folder.mkdir(parents=True, exist_ok=True)

    def waiting(self) -> list[Path]:
        """Files ready to claim, oldest first; partial uploads and hidden files are left alone.

        Other workers claim files from the same folder, and people move files by hand: a
        file that vanishes between the listing and its ``stat`` is simply not waiting any
        more (that race is normal, not an error)."""
        settled_before = time.time() - self.settle_seconds  # file times are wall-clock
        ready = [
            (modified, path)
            for path, modified in _files_with_mtime(self.root)
            if not path.name.startswith(".")
            and not path.name.lower().endswith(IGNORED_SUFFIXES)
            and (self.settle_seconds <= 0 or modified <= settled_before)
        ]
        return [path for _, path in sorted(ready, key=lambda item: (item[0], item[1].name))]

    def orphans(self) -> list[Path]:
        """Files this worker claimed but never filed (it stopped mid-way): re-process them."""
        return sorted(path for path, _ in _files_with_mtime(self.processing))

    def claim(self, path: Path) -> Path | None:
        """Move a waiting file into processing/; None if another worker got it first."""
        self.ensure()
        target = self.processing / path.name
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None
        return target

    def file_done(self, path: Path, sha256: str, now: datetime) -> Path:
        return self._file(path, self.done, sha256, now)

    def file_failed(self, path: Path, sha256: str, now: datetime, reason: str) -> Path:
        target = self._file(path, self.failed, sha256, now)
        Path(f"{target}.reason.txt").write_text(
            f"{path.name}: {reason}\nFix the export and drop the corrected file into the inbox.\n",
            encoding="utf-8",
        )
        return target

    def _file(self, path: Path, folder: Path, sha256: str, now: datetime) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        # Most filesystems allow 255 bytes per name: keep the end (the extension) of long ones.
        name = path.name if len(path.name.encode()) <= 200 else path.name[-120:]
        target = folder / f"{now:%Y%m%dT%H%M%SZ}-{sha256[:8]}-{name}"
        os.replace(path, target)
        return target


def _files_with_mtime(folder: Path) -> list[tuple[Path, float]]:
    """Regular files directly in ``folder`` with their modification times, skipping any
    that vanish while being listed; an absent folder has no files."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        try:
            if entry.is_file():
                found.append((Path(entry.path), entry.stat().st_mtime))
        except FileNotFoundError:
            continue  # claimed by another worker, or moved by a person, just now
    return found


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "worker"
