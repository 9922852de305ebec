"""`aewatch boundary`: design a toxicity stopping boundary and its exact OC, no database.

Thin: parse options, call ``aewatch.safety.boundaries`` / ``operating``, print. The
boundary arithmetic is plain Python (``safety.exact``): the command imports neither
NumPy, SciPy nor pandas, so it starts in a few times a bare interpreter's time.
``boundary_table_rows`` is shared with ``aewatch rules``/``status`` and the DSMB report.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from aewatch.safety.boundaries import Boundary
    from aewatch.safety.operating import OC

DEFAULT_OC_GRID = (0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40)
CSV_COLUMNS = ("section", "n", "stop_at", "p", "p_stop", "expected_n")


def boundary_table_rows(boundary: Boundary) -> list[dict[str, Any]]:
    """The boundary as people read it: one row per run of looks with the same stop count.

    e.g. {"evaluable": "3–5", "from_n": 3, "to_n": 5, "stop_at": 3, "max_acceptable": 2,
    "rule": "stop if >= 3 toxic"}; ``stop_at`` None reads "cannot stop". Cohort looks
    (every > 1) are listed ("6, 9, 12") rather than given as a range.
    """
    rows: list[dict[str, Any]] = []
    runs: list[list[int]] = []
    for index, b in enumerate(boundary.stop_at):
        if runs and boundary.stop_at[runs[-1][-1]] == b:
            runs[-1].append(index)
        else:
            runs.append([index])
    for run in runs:
        looks = [boundary.looks[i] for i in run]
        b = boundary.stop_at[run[0]]
        contiguous = looks[-1] - looks[0] == len(looks) - 1
        if len(looks) == 1:
            label = str(looks[0])
        elif contiguous:
            label = f"{looks[0]}–{looks[-1]}"
        else:
            label = ", ".join(str(n) for n in looks)
        rows.append(
            {
                "evaluable": label,
                "from_n": looks[0],
                "to_n": looks[-1],
                "stop_at": b,
                "max_acceptable": looks[-1] if b is None else b - 1,
                "rule": "cannot stop" if b is None else f"stop if >= {b} toxic",
            }
        )
    return rows


def boundary_document(boundary: Boundary, oc: Sequence[OC]) -> dict[str, Any]:
    """The JSON shape of ``aewatch boundary --format json`` (one boundary entry per look)."""
    return {
        "boundary": [
            {"n": n, "stop_at": b} for n, b in zip(boundary.looks, boundary.stop_at, strict=True)
        ],
        "oc": [{"p": o.p, "p_stop": o.p_stop, "expected_n": o.expected_n} for o in oc],
    }


def register(app: typer.Typer) -> None:
    """Add ``boundary`` to ``app``."""

    @app.command("boundary")
    def boundary_command(
        n: Annotated[int, typer.Option("--n", help="Maximum number of evaluable patients N.")],
        method: Annotated[
            str, typer.Option("--method", help="pocock | obf | bayes | fixed")
        ] = "pocock",
        p0: Annotated[
            float | None,
            typer.Option("--p0", help="Acceptable toxicity rate (pocock/obf: the tested null)."),
        ] = None,
        p1: Annotated[
            float | None, typer.Option("--p1", help="Unacceptable toxicity rate (OC only).")
        ] = None,
        alpha: Annotated[
            float | None,
            typer.Option("--alpha", help="pocock/obf: maximum P(cross | p0), e.g. 0.10."),
        ] = None,
        every: Annotated[
            int, typer.Option("--every", help="Look after every k evaluable patients; N always.")
        ] = 1,
        first_look: Annotated[
            int | None,
            typer.Option(
                "--first-look", help="No look before this n (bayes: the minimum evaluable n)."
            ),
        ] = None,
        prior: Annotated[
            str | None, typer.Option("--prior", help="bayes: Beta prior 'a,b', e.g. 0.6,2.4.")
        ] = None,
        pmax: Annotated[
            float | None, typer.Option("--pmax", help="bayes: the toxicity limit p_max.")
        ] = None,
        threshold: Annotated[
            float | None,
            typer.Option("--threshold", help="bayes: stop when Pr(p > p_max | data) > this."),
        ] = None,
        k: Annotated[
            str | None, typer.Option("--k", help="fixed: stop at >= k toxicities (list: 3,5).")
        ] = None,
        m: Annotated[
            str | None, typer.Option("--m", help="fixed: ...among the first m (list: 6,12).")
        ] = None,
        oc_at: Annotated[
            str | None,
            typer.Option("--oc-at", help="Extra true rates for the OC table, e.g. 0.1,0.2,0.3."),
        ] = None,
        fmt: Annotated[
            str, typer.Option("--format", "-f", help="table (for people), json or csv.")
        ] = "table",
    ) -> None:
        """Print a toxicity stopping boundary and its exact operating characteristics.

        The boundary is an integer table: with n evaluable patients, stop (declare the
        treatment too toxic) if the number with the toxicity is >= stop_at. pocock and
        obf port clinfun::toxbdry (Ivanova, Qaqish & Schell 2005) and keep its "hi"
        bracket, whose P(cross | p0) <= alpha; bayes stops when Pr(p > pmax | x, n) >
        threshold under a Beta prior; fixed stops at >= k toxicities among the first m.

        The OC table gives, for each true rate p, p_stop = P(boundary crossed at any look)
        and expected_n = expected patients at stopping (N if never stopped), computed
        exactly by binomial recursion. The rates are p0, p1 and every --oc-at rate (by
        default 0.05 to 0.40 when none is given).

        Example:

            aewatch boundary --method pocock --p0 0.15 --p1 0.30 --n 36 --alpha 0.10

        JSON ({"boundary": [{"n", "stop_at"}], "oc": [{"p", "p_stop", "expected_n"}]}) and
        CSV (one table, a `section` column: boundary | oc) are for scripts.
        """
        from aewatch.safety.boundaries import canonical_method, make_boundary
        from aewatch.safety.operating import operating_characteristics

        try:
            name = canonical_method(method)
            params = _design_params(
                name, n, p0, p1, alpha, every, first_look, prior, pmax, threshold, k, m
            )
            boundary = make_boundary(name, **params)
            rates = _oc_grid(p0, p1, oc_at)
            oc = operating_characteristics(boundary, rates)
        except ValueError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from exc
        if fmt == "json":
            import json

            sys.stdout.write(json.dumps(boundary_document(boundary, oc), indent=2) + "\n")
        elif fmt == "csv":
            _write_csv(boundary, oc)
        elif fmt == "table":
            _write_table(boundary, oc)
        else:
            typer.secho(f"error: unknown format {fmt!r}: use table, json or csv", err=True)
            raise typer.Exit(2)


def _design_params(
    method: str,
    n: int,
    p0: float | None,
    p1: float | None,
    alpha: float | None,
    every: int,
    first_look: int | None,
    prior: str | None,
    pmax: float | None,
    threshold: float | None,
    k: str | None,
    m: str | None,
) -> dict[str, Any]:
    """Map CLI options onto ``make_boundary`` parameters; refuse options the method ignores."""
    given = {
        "--alpha": alpha,
        "--prior": prior,
        "--pmax": pmax,
        "--threshold": threshold,
        "--k": k,
        "--m": m,
    }
    used = {
        "pocock": {"--alpha"},
        "obf": {"--alpha"},
        "bayes": {"--prior", "--pmax", "--threshold"},
        "fixed": {"--k", "--m"},
    }[method]
    stray = sorted(
        option for option, value in given.items() if value is not None and option not in used
    )
    if stray:
        raise ValueError(f"{', '.join(stray)} not used by --method {method}")
    if method in ("pocock", "obf"):
        if p0 is None or alpha is None:
            raise ValueError(f"--method {method} needs --p0 and --alpha")
        return {
            "p0": p0,
            "p1": p1,
            "n_max": n,
            "alpha": alpha,
            "every": every,
            "first_look": first_look,
        }
    if method == "bayes":
        if pmax is None or threshold is None or prior is None:
            raise ValueError("--method bayes needs --prior a,b, --pmax and --threshold")
        a, b = _numbers(prior, "--prior", count=2)
        return {
            "p_max": pmax,
            "threshold": threshold,
            "prior": (a, b),
            "n_max": n,
            "every": every,
            "min_n": first_look or 1,
        }
    if first_look is not None:
        raise ValueError("--first-look not used by --method fixed (use --k/--m pairs)")
    if k is None:
        raise ValueError("--method fixed needs --k (and optionally --m, default N)")
    ks = [_as_int(v, "--k") for v in _numbers(k, "--k")]
    ms = None if m is None else [_as_int(v, "--m") for v in _numbers(m, "--m")]
    return {"k": ks, "m": ms, "n_max": n, "every": every}


def _oc_grid(p0: float | None, p1: float | None, oc_at: str | None) -> list[float]:
    rates = [p for p in (p0, p1) if p is not None]
    extra = _numbers(oc_at, "--oc-at") if oc_at else []
    for rate in extra:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"--oc-at: rates must be between 0 and 1, got {rate}")
    rates += extra
    return sorted(set(rates)) if rates else list(DEFAULT_OC_GRID)


def _numbers(text: str, option: str, count: int | None = None) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{option}: expected comma-separated numbers, got {text!r}") from None
    if not values or (count is not None and len(values) != count):
        what = f"{count} comma-separated numbers" if count else "comma-separated numbers"
        raise ValueError(f"{option}: expected {what}, got {text!r}")
    return values


def _as_int(value: float, option: str) -> int:
    if value != int(value):
        raise ValueError(f"{option}: expected whole numbers, got {value}")
    return int(value)


def _write_csv(boundary: Boundary, oc: Sequence[OC]) -> None:
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for n, b in zip(boundary.looks, boundary.stop_at, strict=True):
        writer.writerow(["boundary", n, "" if b is None else b, "", "", ""])
    for o in oc:
        writer.writerow(["oc", "", "", repr(o.p), repr(o.p_stop), repr(o.expected_n)])


def _write_table(boundary: Boundary, oc: Sequence[OC]) -> None:
    from aewatch.output import table

    sys.stdout.write(_summary(boundary) + "\n")
    table(
        boundary_table_rows(boundary),
        ["evaluable", "stop_at", "rule"],
        title="Stop if toxic patients >= stop_at among the first n evaluable",
    )
    rows = [
        {
            "p": f"{o.p:.3f}",
            "p_stop": f"{o.p_stop:.4f}",
            "p_early": f"{o.p_early:.4f}",
            "expected_n": f"{o.expected_n:.1f}",
        }
        for o in oc
    ]
    table(rows, ["p", "p_stop", "p_early", "expected_n"], title="Exact operating characteristics")


def _summary(boundary: Boundary) -> str:
    params = boundary.params
    shown = ", ".join(
        f"{key}={value}"
        for key, value in params.items()
        if key
        in (
            "p0",
            "p1",
            "alpha",
            "every",
            "first_look",
            "p_max",
            "threshold",
            "prior",
            "min_n",
            "k",
            "m",
        )
        and value is not None
    )
    lines = [f"# {boundary.method}, N={boundary.n_max}, {len(boundary.looks)} looks; {shown}"]
    if "nominal_alpha" in params:
        lines.append(
            f"# nominal per-look level {params['nominal_alpha']:.4g} (clinfun hi.bdry); "
            f"clinfun lo.bdry differs at {_differences(boundary)} look(s)"
        )
    lines.append(f"# table digest {boundary.digest}")
    return "\n".join(lines)


def _differences(boundary: Boundary) -> int:
    other = boundary.params.get("clinfun_lo_stop_at", boundary.stop_at)
    return sum(1 for a, b in zip(boundary.stop_at, other, strict=True) if a != b)
