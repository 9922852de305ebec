"""Render the DSMB report for the demo trial and take pictures of it for docs/img/.

    .venv/bin/python scripts/render_report_pngs.py [--out docs/img] [--keep]

Steps: a fresh database in a temp folder → `aewatch demo` → `aewatch ingest` → `aewatch
report dsmb --month 2026-10 --pdf` (both parts; the demo's data end in October 2026) → a
headless-Chromium screenshot of each part's HTML and `pdftoppm` PNGs of one PDF page of
each kind. Needs Debian's chromium and poppler-utils (apt-get install chromium
poppler-utils).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AEWATCH = Path(sys.executable).with_name("aewatch")
MAX_BYTES = 300 * 1024
MONTH = "2026-10"
# PDF page kinds per part, found by a heading on the page (the first page that has it).
PAGE_KINDS = {
    "open": {
        "dsmb-open-summary": "1. Summary",
        "dsmb-open-disposition": "2. Accrual and disposition",
        "dsmb-open-acute-late": "All-cause AEs: acute vs late",
        "dsmb-open-liver": "6. Liver safety",
        "dsmb-open-stopping-rules": "8. Stopping rules",
        "dsmb-open-rule-appendix": "Appendix. The stopping rules",
    },
    "closed": {
        "dsmb-closed-saes": "C2. SAEs and deaths",
        "dsmb-closed-liver": "Liver panel over time",
        "dsmb-closed-stopping-rules": "C4. Stopping rules",
    },
}


def run(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(list(args), env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])}… failed:\n{done.stderr}")
    return done.stdout


def build_demo_report(work: Path) -> dict[str, tuple[Path, Path]]:
    env = {
        **os.environ,
        "AEWATCH_CONFIG": str(REPO / "config" / "nct06261047.toml"),
        "AEWATCH_WORKER__INBOX": str(work / "inbox"),
        "AEWATCH_WORKER__DATA_DIR": str(work / "data"),
        "AEWATCH_ALERTS__OUTBOX_DIR": str(work / "outbox"),
        "AEWATCH_REPORTS__OUT_DIR": str(work / "reports"),
    }
    run(str(AEWATCH), "init", env=env)
    files = run(str(AEWATCH), "demo", env=env).split()
    run(str(AEWATCH), "ingest", *files, env=env)
    # Clinical cut: October's last day; knowledge: everything recorded now.
    run(str(AEWATCH), "report", "dsmb", "--month", MONTH, "--pdf", env=env)
    out = {}
    for part in PAGE_KINDS:
        stem = work / "reports" / f"dsmb-NCT06261047-{MONTH}-{part}"
        out[part] = (stem.with_suffix(".html"), stem.with_suffix(".pdf"))
    return out


def screenshot_html(html: Path, target: Path, width: int = 1100, height: int = 1500) -> None:
    profile = tempfile.mkdtemp(prefix="aewatch-chromium-")
    try:
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={target}",
                f"--window-size={width},{height}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def pdf_page_texts(pdf: Path) -> list[str]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")


def render_page(pdf: Path, page: int, target: Path) -> None:
    """PNG of one page, at the highest resolution that stays under MAX_BYTES."""
    for dpi in (80, 70, 60, 50):
        prefix = target.with_suffix("")
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                str(dpi),
                "-f",
                str(page),
                "-l",
                str(page),
                "-singlefile",
                str(pdf),
                str(prefix),
            ],
            check=True,
        )
        if target.stat().st_size <= MAX_BYTES:
            return
    raise SystemExit(f"{target} is larger than {MAX_BYTES} bytes even at 50 dpi")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    options = parser.parse_args(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="aewatch-report-pngs-"))
    try:
        for part, (html, pdf) in build_demo_report(work).items():
            shot = options.out / f"dsmb-{part}-html.png"
            screenshot_html(html, shot)
            print(f"{shot} ({shot.stat().st_size // 1024} KB)")
            texts = pdf_page_texts(pdf)
            for name, heading in PAGE_KINDS[part].items():
                page = next(i for i, text in enumerate(texts, start=1) if heading in text)
                target = options.out / f"{name}.png"
                render_page(pdf, page, target)
                print(f"{target} (page {page}, {target.stat().st_size // 1024} KB)")
    finally:
        if options.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
