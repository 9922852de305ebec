"""Rebuild the generated files in ``ctcae/data/`` from the project's reference folder.

Run by a maintainer, never at run time::

    python -m aewatch.ctcae.refresh_data ../shared/reference/ctcae

It copies the NCI term list, keeps the v4.03 → v5.0 rows whose term changes, and turns
the long-format lab rules (admiral's CTCAE v5 criteria, re-expressed) into the structured
clause table ``lab_rules_ctcv5.csv``: one clause per row, ``OR`` guards split in two (both
give "not gradable", so the grade is unchanged and the note can say which input was
missing). Units are written in our canonical spelling. Hand-written files
(``lab_test_map.csv``, ``unit_*.csv``, ``spelling_variants.csv``) are left alone.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from aewatch.ctcae._data import data_path, read_rows
from aewatch.ctcae.rules import rule_set_key
from aewatch.ctcae.units import normalise_unit

RULE_COLUMNS = [
    "rule_set",
    "unit_system",
    "term",
    "direction",
    "unit",
    "order",
    "source_seq",
    "grade",
    "missing",
    "op",
    "ref",
    "factor",
    "offset",
    "const",
    "nrind",
    "present",
    "pct_chg_max",
    "condition",
]

_COMPARISON = re.compile(
    r"^VALUE\s*(?P<op><=|>=|<|>)\s*(?:(?P<factor>[\d.]+)\s*\*\s*)?"
    r"(?P<ref>ULN|LLN|BASELINE|[-\d.]+)(?:\s*\+\s*(?P<offset>[\d.]+))?$"
)


def _atoms(condition: str) -> Iterator[str]:
    return (part.strip() for part in condition.split(" AND "))


def clause_rows(condition: str) -> list[dict[str, str]]:
    """Structured clause(s) for one condition text (two when it is an ``OR`` of missings)."""
    if condition == "otherwise":
        return [{}]
    if " OR " in condition:
        parts = [p.strip() for p in condition.split(" OR ")]
        if not all(p.endswith(" missing") for p in parts):
            raise ValueError(f"unsupported OR condition: {condition!r}")
        return [{"missing": p.removesuffix(" missing")} for p in parts]
    fields: dict[str, str] = {}
    for atom in _atoms(condition):
        if atom.endswith(" missing"):
            fields["missing"] = atom.removesuffix(" missing")
        elif atom.endswith(" present"):
            name = atom.removesuffix(" present")
            fields["present"] = "PCT_CHG" if name == "PCT_CHG_FROM_BASELINE" else name
        elif atom == "BASELINE_NRIND is HIGH":
            fields["nrind"] = "HIGH"
        elif atom == "BASELINE_NRIND not HIGH":
            fields["nrind"] = "NOT_HIGH"
        elif atom.startswith("PCT_CHG_FROM_BASELINE <="):
            fields["pct_chg_max"] = atom.split("<=")[1].strip()
        else:
            match = _COMPARISON.match(atom)
            if not match:
                raise ValueError(f"unsupported condition atom {atom!r} in {condition!r}")
            ref = match["ref"]
            fields["op"] = match["op"]
            if ref in ("ULN", "LLN", "BASELINE"):
                fields["ref"] = ref
                fields["factor"] = match["factor"] or "1"
                fields["offset"] = match["offset"] or ""
            else:
                fields["ref"] = "CONSTANT"
                fields["const"] = ref
    return [fields]


def build_rules(long_rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The structured rule table from the reference long-format rows."""
    out: list[dict[str, str]] = []
    order: dict[str, int] = {}
    for row in long_rows:
        unit = normalise_unit(row["unit"]) or ""
        key = rule_set_key(row["unit_system"], row["term"], row["direction"], unit or None)
        for fields in clause_rows(row["condition"]):
            _check_against_structured(row, fields)
            order[key] = order.get(key, 0) + 1
            record = dict.fromkeys(RULE_COLUMNS, "")
            record.update(
                rule_set=key,
                unit_system=row["unit_system"],
                term=row["term"],
                direction=row["direction"],
                unit=unit,
                order=str(order[key]),
                source_seq=row["seq"],
                grade=row["result_grade"],
                condition=row["condition"],
            )
            record.update(fields)
            out.append(record)
    return out


def _check_against_structured(row: dict[str, str], fields: dict[str, str]) -> None:
    """Our parse of the condition text must agree with the file's own cmp_* columns."""
    if not row["cmp_var"]:
        return
    expected = {
        "op": row["cmp_op"],
        "ref": row["cmp_ref"],
        "factor": row["cmp_factor"],
        "offset": row["cmp_offset"],
        "const": row["cmp_const"],
    }
    for name, value in expected.items():
        if not value:
            continue
        got = fields.get(name, "")
        if name in ("factor", "offset", "const"):
            same = got != "" and float(got) == float(value)
        else:
            same = got == value
        if not same:
            raise ValueError(f"{row['term']} seq {row['seq']}: {name} {got!r} != {value!r}")


def build_recodes(mapping_rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The v4.03 → v5.0 rows whose term changes (deleted terms and grade-wise moves)."""
    keep = [
        "v4_meddra_code",
        "v4_term",
        "v4_grade_or_definition",
        "change_type",
        "v5_meddra_code",
        "v5_soc",
        "v5_term",
        "v5_other_specify",
    ]
    return [
        {k: r[k] for k in keep}
        for r in mapping_rows
        if r["v4_term"].casefold() != r["v5_term"].casefold()
    ]


def _write(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def refresh(reference_dir: Path, out_dir: Path | None = None) -> None:
    """Regenerate the three derived data files from ``reference_dir``."""
    out = out_dir or data_path("")
    terms = (reference_dir / "ctcae_v5_terms.csv").read_text(encoding="utf-8")
    (out / "ctcae_v5_terms.csv").write_text(terms, encoding="utf-8")
    long_rows = read_rows(reference_dir / "lab_grading_rules_ctcv5_long.csv")
    _write(out / "lab_rules_ctcv5.csv", build_rules(long_rows), RULE_COLUMNS)
    recodes = build_recodes(read_rows(reference_dir / "ctcae_v4_to_v5_mapping.csv"))
    _write(out / "ctcae_v4_to_v5_recodes.csv", recodes, list(recodes[0]))


if __name__ == "__main__":  # pragma: no cover - maintainer entry point
    refresh(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
