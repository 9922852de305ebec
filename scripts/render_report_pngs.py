"""Render the DSMB report for the demo trial and take pictures of it for docs/img/.

    .venv/bin/python scripts/render_report_pngs.py [--out docs/img] [--keep]

Steps: a fresh database in a temp folder → `aewatch demo` → `aewatch ingest` → `aewatch
report dsmb --pdf` for the current month → a headless-Chromium screenshot of the HTML and
`pdftoppm` PNGs of one PDF page of each kind (summary, AE tables, SAEs/liver, methods).
Needs Debian's chromium and poppler-utils (apt-get install chromium poppler-utils).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AEWATCH = Path(sys.executable).with_name("aewatch")
MAX_BYTES = 300 * 1024
# PDF page kinds, found by a heading on the page (the first page that has it).
PAGE_KINDS = {
    "dsmb-pdf-summary": "1. Summary",
    "dsmb-pdf-adverse-events": "All-cause AEs by SOC and term, by patient",
    "dsmb-pdf-saes": "Serious adverse events",
    "dsmb-pdf-liver": "6. Liver safety",
    "dsmb-pdf-stopping-rules": "8. Stopping rules",
    "dsmb-pdf-methods": "11. Methods",
}


def run(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(list(args), env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])}… failed:\n{done.stderr}")
    return done.stdout


def build_demo_report(work: Path) -> tuple[Path, Path]:
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
    # The demo's AE versions are recorded now, so the current month's cut includes them.
    month = datetime.now(UTC).strftime("%Y-%m")
    run(str(AEWATCH), "report", "dsmb", "--month", month, "--pdf", env=env)
    stem = f"dsmb-NCT06261047-{month}"
    return work / "reports" / f"{stem}.html", work / "reports" / f"{stem}.pdf"


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
        html, pdf = build_demo_report(work)
        shot = options.out / "dsmb-html.png"
        screenshot_html(html, shot)
        print(f"{shot} ({shot.stat().st_size // 1024} KB)")
        texts = pdf_page_texts(pdf)
        for name, heading in PAGE_KINDS.items():
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
