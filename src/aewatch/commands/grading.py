"""CLI commands for CTCAE grading: ``grade-labs`` and ``ctcae``.

Thin shell over ``aewatch.ctcae``: parse options, call, print. pandas and the grading
modules are imported inside the commands so ``aewatch --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer


def _paragraphs(text: str) -> str:
    """Join wrapped source lines into one line per paragraph (indented lines stay as is),
    so rich wraps help text to the terminal instead of at our source line breaks."""
    out: list[str] = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        if all(line.startswith("    ") for line in lines):
            out.append("\n".join(line.strip() for line in lines))
        else:
            out.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(out)


GRADE_LABS_HELP = _paragraphs("""Grade an SDTM LB file with CTCAE v5.0 and write the graded rows.

Reads LB as .xpt or .csv (give several LB files, e.g. chemistry and haematology, to
grade them together). The baseline of each test is the last result on or before the
subject's first dose (DM.RFXSTDTC, with --dm); without DM, the record flagged
LBBLFL = Y. The output repeats every row and adds TOXTERML/TOXGRL (low direction, e.g.
Anemia), TOXTERMH/TOXGRH (high direction, e.g. ALT increased) and TOXNOTE, which says
why a row could not be graded (no reference range, unknown unit, ...). Grades are 0-4;
empty means not gradable. The output format follows --out: .csv, .xlsx or .xpt.

A malformed row never stops the run: a CSV row that does not split into the header's
fields, a result that is not a number, or an implausible result or reference range (a
negative count, platelets above 5,000 x10^9/L, an inverted range ...) is not graded nor
used as a baseline, and is listed with its file, row and reason in the rejects file
(--rejects; default <out>.rejects.csv, written only when there are any). The command
fails only when an input file cannot be read.

Example:

    aewatch grade-labs lb.xpt --dm dm.xpt --out lb_graded.csv
""")

CTCAE_HELP = _paragraphs("""Show a CTCAE v5.0 term: SOC, MedDRA code, definition and grade texts.

TERM is a term name (any case) or its MedDRA code. When nothing matches, close
spellings are suggested and the command exits with status 1.

Examples:

    aewatch ctcae "Alanine aminotransferase increased"

    aewatch ctcae 10001551
""")


def _keep_freed_memory() -> None:
    """Let the C library's malloc keep the memory it frees for the next array instead of
    handing it back to the kernel, and let Arrow allocate from it too. Grading a large
    export makes and drops hundreds of arrays of a few MB; by default each is a fresh
    mmap whose pages fault in one by one (with Arrow's own allocator as well): on a
    million rows, a quarter of the command's time went to the kernel. glibc only;
    elsewhere the defaults stay."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library Python itself runs on
    except (OSError, AttributeError):  # no mallopt (not glibc): nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    if mallopt(m_mmap_threshold, 32 << 20) and mallopt(m_trim_threshold, 1 << 30):
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())


def register(app: typer.Typer) -> None:
    """Add ``grade-labs`` and ``ctcae`` to ``app`` (aewatch.cli wires this in)."""

    @app.command("grade-labs", help=GRADE_LABS_HELP)
    def grade_labs_command(
        lb_file: list[Path] = typer.Argument(
            ..., help="SDTM LB file(s), .xpt or .csv.", exists=True, dir_okay=False
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Output file: .csv, .xlsx or .xpt."),
        dm: Path | None = typer.Option(
            None,
            "--dm",
            help="SDTM DM file (.xpt/.csv) for RFXSTDTC baselines.",
            exists=True,
            dir_okay=False,
        ),
        top: int = typer.Option(10, help="How many not-gradable reasons to list."),
        rejects: Path | None = typer.Option(
            None,
            "--rejects",
            help="Where to list rows not graded for bad data (default: <out>.rejects.csv).",
        ),
    ) -> None:
        _keep_freed_memory()
        from aewatch.ctcae.csv_io import read_ahead

        read_ahead([*lb_file, *([dm] if dm is not None else [])])  # parsed while we import
        from rich.console import Console
        from rich.table import Table

        from aewatch.ctcae.standalone import grade_lab_file

        console = Console()
        try:
            summary = grade_lab_file(lb_file, dm, out_path=out, rejects_path=rejects)
        except (ValueError, OSError) as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from error
        table = Table(title="CTCAE v5.0 grade distribution (rows per test and term)")
        for column in summary.distribution.columns:
            table.add_column(
                str(column), justify="left" if column in ("LBTESTCD", "term") else "right"
            )
        for row in summary.distribution.itertuples(index=False):
            table.add_row(*(str(v) for v in row))
        console.print(table)
        console.print(
            f"rows: {summary.rows}   graded: {summary.graded}   "
            f"not gradable: {summary.not_gradable_rows}"
        )
        if summary.not_gradable:
            reasons = Table(title="Not gradable, by reason")
            reasons.add_column("reason")
            reasons.add_column("rows", justify="right")
            for reason, count in summary.not_gradable[:top]:
                reasons.add_row(reason, str(count))
            console.print(reasons)
        if summary.rejects_path is not None:
            console.print(
                f"rejected (malformed or implausible, not graded): {summary.rejected} rows, "
                f"listed in {summary.rejects_path}"
            )
        console.print(f"written: {out}")
        from aewatch.process_exit import skip_teardown

        skip_teardown()  # the files are closed: freeing a million rows one by one is waste

    @app.command("ctcae", help=CTCAE_HELP)
    def ctcae_command(
        term: str = typer.Argument(..., help="CTCAE term name or MedDRA code."),
    ) -> None:
        from rich.console import Console
        from rich.table import Table

        from aewatch.ctcae.dictionary import load_dictionary

        console = Console()
        dictionary = load_dictionary()
        found = dictionary.lookup(term) or dictionary.lookup_spelling(term)
        note = ""
        if found is None:
            recodes = dictionary.recode_v4(term)
            if recodes:
                found = dictionary.lookup(recodes[0].v5_term)
                note = f"'{term}' is a CTCAE v4.03 term; v5.0 uses '{recodes[0].v5_term}'."
        if found is None:
            console.print(f"'{term}' is not a CTCAE v5.0 term or MedDRA code.")
            suggestions = dictionary.suggest(term)
            if suggestions:
                console.print("Did you mean: " + "; ".join(suggestions))
            raise typer.Exit(1)
        if note:
            console.print(note)
        console.print(f"[bold]{found.term}[/bold]  (MedDRA {found.meddra_code})")
        console.print(f"SOC: {found.soc}")
        console.print(f"Definition: {found.definition or '-'}")
        if found.navigational_note:
            console.print(f"Note: {found.navigational_note}")
        grades = Table(show_header=True)
        grades.add_column("Grade", justify="right")
        grades.add_column(dictionary.version)
        for grade in range(1, 6):
            grades.add_row(str(grade), found.grade_text(grade) or "- (not defined)")
        console.print(grades)
