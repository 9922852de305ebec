"""A corpus of malformed files and rows: each fault gets its own specific reason,
the good rows beside it still go in, and the worker keeps going."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from aewatch.models import AeVersion, LabResult, QuarantineEntry, RtCourse, SourceFile, Subject

DM = (
    "STUDYID,DOMAIN,USUBJID,SITEID,RFXSTDTC\n"
    "NCT06261047,DM,01-001,01,2025-03-01\n"
    "NCT06261047,DM,01-002,01,2025-03-05\n"
)
AE_HEAD = "STUDYID,DOMAIN,USUBJID,AESPID,AETERM,AEDECOD,AETOXGR,AESER,AEREL,AESTDTC,AEENDTC\n"
AE_GOOD = "NCT06261047,AE,01-001,AE-1,NAUSEA,Nausea,2,N,POSSIBLE,2025-03-10,2025-03-20\n"
LB_HEAD = "STUDYID,DOMAIN,USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
LB_GOOD = "NCT06261047,LB,01-001,1,ALT,35,U/L,0,40,2025-03-01\n"
EX_HEAD = "STUDYID,DOMAIN,USUBJID,EXSPID,EXTRT,EXDOSE,EXDOSU,EXNFRAC,EXLOC,EXSTDTC,EXENDTC\n"
EX_GOOD = "NCT06261047,EX,01-001,RT1,SBRT,8,Gy,5,liver S7,2025-03-01,2025-03-08\n"
DM_HEAD = "STUDYID,DOMAIN,USUBJID,SITEID,SEX,OLIGOCAT,RFXSTDTC,RFXENDTC,DTHDTC\n"
DM_GOOD = "NCT06261047,DM,02-001,02,M,metachronous,2025-04-01,2025-04-10,\n"


@dataclass(frozen=True)
class RowFault:
    name: str
    file: str
    text: str
    field: str | None
    reason: str
    kind: str = "rejected"


def _join(values: object) -> str:
    return ",".join(f'"{v}"' if "," in v else v for v in values)  # type: ignore[attr-defined]


def ae(**changes: str) -> str:
    values = dict(zip(AE_HEAD.strip().split(","), AE_GOOD.strip().split(","), strict=True))
    values.update({"AESPID": "AE-2", **changes})
    return AE_HEAD + AE_GOOD + _join(values.values()) + "\n"


def lb(**changes: str) -> str:
    values = dict(zip(LB_HEAD.strip().split(","), LB_GOOD.strip().split(","), strict=True))
    values.update({"LBSEQ": "2", **changes})
    return LB_HEAD + LB_GOOD + _join(values.values()) + "\n"


def ex(**changes: str) -> str:
    values = dict(zip(EX_HEAD.strip().split(","), EX_GOOD.strip().split(","), strict=True))
    values.update({"EXSPID": "RT2", **changes})
    return EX_HEAD + EX_GOOD + _join(values.values()) + "\n"


def dm(**changes: str) -> str:
    values = dict(zip(DM_HEAD.strip().split(","), DM_GOOD.strip().split(","), strict=True))
    values.update({"USUBJID": "02-002", **changes})
    return DM_HEAD + DM_GOOD + _join(values.values()) + "\n"


ROW_FAULTS = [
    RowFault("empty subject", "ae.csv", ae(USUBJID=""), "USUBJID", "USUBJID is empty"),
    RowFault("grade above 5", "ae.csv", ae(AETOXGR="7"), "AETOXGR", "AETOXGR '7' is not a CTCAE"),
    RowFault("grade as a word", "ae.csv", ae(AETOXGR="two"), "AETOXGR", "'two' is not a CTCAE"),
    RowFault("grade with decimals", "ae.csv", ae(AETOXGR="2.5"), "AETOXGR", "'2.5' is not a CTC"),
    RowFault("grade zero", "ae.csv", ae(AETOXGR="0"), "AETOXGR", "'0' is not a CTCAE grade"),
    RowFault("serious flag not Y/N", "ae.csv", ae(AESER="maybe"), "AESER", "'maybe' is not rec"),
    RowFault("onset month 13", "ae.csv", ae(AESTDTC="2025-13-45"), "AESTDTC", "not an ISO 8601"),
    RowFault(
        "onset in day-first format",
        "ae.csv",
        ae(AESTDTC="31/12/2025"),
        "AESTDTC",
        "'31/12/2025' is not an ISO 8601",
    ),
    RowFault(
        "onset on a day that does not exist",
        "ae.csv",
        ae(AESTDTC="2025-02-30"),
        "AESTDTC",
        "'2025-02-30' is not an ISO 8601",
    ),
    RowFault(
        "end before onset",
        "ae.csv",
        ae(AEENDTC="2025-03-01"),
        "AEENDTC",
        "is before the onset date",
    ),
    RowFault("end date garbage", "ae.csv", ae(AEENDTC="soon"), "AEENDTC", "'soon' is not an ISO"),
    RowFault("no identifier at all", "ae.csv", ae(AESPID=""), "AESPID", "no AE identifier"),
    RowFault(
        "study not accepted",
        "ae.csv",
        ae(STUDYID="OTHER-01"),
        "STUDYID",
        "STUDYID 'OTHER-01' is not accepted",
    ),
    RowFault(
        "ragged row",
        "ae.csv",
        AE_HEAD + AE_GOOD + "NCT06261047,AE,01-001,AE-3,X\n",
        None,
        "row has 5 fields but the header has 11",
    ),
    RowFault(
        "duplicate row", "ae.csv", AE_HEAD + AE_GOOD + AE_GOOD, None, "duplicate of an earlier row"
    ),
    RowFault(
        "serious flag contradicts a criterion",
        "ae.csv",
        AE_HEAD.strip()
        + ",AESHOSP,AEAWDTC\n"  # the SAE's awareness given: only AESER is in question
        + AE_GOOD.strip()
        + ",N,\n"
        + AE_GOOD.strip().replace("AE-1", "AE-2")
        + ",Y,2025-03-11\n",
        "AESER",
        "AESER is N but a seriousness criterion is Y",
        kind="query",
    ),
    RowFault(
        "relationship word unknown",
        "ae.csv",
        ae(AEREL="SOMEWHAT"),
        "AEREL",
        "AEREL 'SOMEWHAT' is not recognised",
    ),
    RowFault(
        "systemic relationship unknown",
        "ae.csv",
        AE_HEAD.strip()
        + ",AERELSYS\n"
        + AE_GOOD.strip()
        + ",NONE\n"
        + AE_GOOD.strip().replace("AE-1", "AE-2")
        + ",??\n",
        "AERELSYS",
        "AERELSYS '??' is not recognised",
    ),
    RowFault(
        "outcome unknown",
        "ae.csv",
        AE_HEAD.strip()
        + ",AEOUT\n"
        + AE_GOOD.strip()
        + ",FATAL\n"
        + AE_GOOD.strip().replace("AE-1", "AE-2")
        + ",GONE\n",
        "AEOUT",
        "AEOUT 'GONE' is not recognised",
    ),
    RowFault(
        "severity unknown",
        "ae.csv",
        AE_HEAD.strip()
        + ",AESEV\n"
        + AE_GOOD.strip()
        + ",MILD\n"
        + AE_GOOD.strip().replace("AE-1", "AE-2")
        + ",VERY BAD\n",
        "AESEV",
        "AESEV 'VERY BAD' is not MILD",
    ),
    RowFault(
        "death flag not Y/N",
        "ae.csv",
        AE_HEAD.strip()
        + ",AESDTH\n"
        + AE_GOOD.strip()
        + ",N\n"
        + AE_GOOD.strip().replace("AE-1", "AE-2")
        + ",X\n",
        "AESDTH",
        "AESDTH 'X' is not recognised",
    ),
    RowFault(
        "subject not in DM is held",
        "ae.csv",
        ae(USUBJID="09-999"),
        "USUBJID",
        "is not in DM yet",
        kind="pending",
    ),
    RowFault(
        "lab result with a decimal comma",
        "lb.csv",
        lb(LBSTRESN="12,5"),
        "LBSTRESN",
        "'12,5' is not a number",
    ),
    RowFault(
        "lab range upside down",
        "lb.csv",
        lb(LBSTNRLO="50", LBSTNRHI="10", LBDTC="2025-03-02"),
        "LBSTNRLO",
        "reference range LBSTNRLO '50' to LBSTNRHI '10' is inverted",
        kind="query",
    ),
    RowFault("lab date missing", "lb.csv", lb(LBDTC=""), "LBDTC", "LBDTC is empty"),
    RowFault("lab test code missing", "lb.csv", lb(LBTESTCD=""), "LBTESTCD", "LBTESTCD is empty"),
    RowFault(
        "lab upper limit not a number",
        "lb.csv",
        lb(LBSTNRHI="high"),
        "LBSTNRHI",
        "'high' is not a number",
    ),
    RowFault(
        "same lab twice",
        "lb.csv",
        lb(LBSEQ="1", LBSTRESN="36"),
        "LBTESTCD",
        "appears twice for this subject",
    ),
    RowFault(
        "lab date garbage", "lb.csv", lb(LBDTC="2025-3-1"), "LBDTC", "'2025-3-1' is not an ISO 8601"
    ),
    RowFault("fractions not whole", "ex.csv", ex(EXNFRAC="4.5"), "EXNFRAC", "not a whole number"),
    RowFault("negative dose", "ex.csv", ex(EXDOSE="-2"), "EXDOSE", "'-2' is below 0"),
    RowFault(
        "RT ends before it starts",
        "ex.csv",
        ex(EXENDTC="2025-02-01"),
        "EXENDTC",
        "is before EXSTDTC",
    ),
    RowFault(
        "RT dose not in a radiation unit",
        "ex.csv",
        ex(EXDOSU="mg", EXLOC="bone T10"),
        "EXDOSU",
        "EXDOSU 'mg' is not a radiotherapy dose unit (Gy or cGy); the course keeps its dates",
        kind="query",
    ),
    RowFault("RT start missing", "ex.csv", ex(EXSTDTC=""), "EXSTDTC", "EXSTDTC is empty"),
    RowFault("zero fractions", "ex.csv", ex(EXNFRAC="0"), "EXNFRAC", "'0' is below 1"),
    RowFault("sex unknown", "dm.csv", dm(SEX="Q"), "SEX", "SEX 'Q' is not M, F or U"),
    RowFault(
        "oligoprogression category unknown",
        "dm.csv",
        dm(OLIGOCAT="sporadic"),
        "OLIGOCAT",
        "use metachronous, repeat or induced",
    ),
    RowFault(
        "subject twice in DM",
        "dm.csv",
        dm(USUBJID="02-001", SEX="F"),
        "USUBJID",
        "appears twice in this DM file",
    ),
    RowFault(
        "treatment ends before it starts",
        "dm.csv",
        dm(RFXENDTC="2025-03-01"),
        "RFXENDTC",
        "is before RFXSTDTC",
    ),
    RowFault(
        "death date garbage",
        "dm.csv",
        dm(DTHDTC="yesterday"),
        "DTHDTC",
        "'yesterday' is not an ISO 8601",
    ),
    RowFault(
        "domain not read by aewatch",
        "mixed.csv",
        AE_HEAD + AE_GOOD + AE_GOOD.replace(",AE,", ",XX,").replace("AE-1", "AE-2"),
        "DOMAIN",
        "domain 'XX' is not read by aewatch",
    ),
    RowFault(
        "JSON record that is not an object",
        "ae.json",
        '[{"STUDYID": "NCT06261047", "DOMAIN": "AE", "USUBJID": "01-001", "AESPID": "AE-1",'
        ' "AETERM": "NAUSEA", "AETOXGR": 1}, "oops"]',
        None,
        "record is a str, not an object",
    ),
]

FILE_FAULTS = [
    ("empty file", "ae.csv", b"", "the file is empty"),
    ("only blank lines", "ae.csv", b"\n\n  \n", "the file is empty"),
    ("invalid JSON", "ae.json", b'[{"USUBJID": "01-001",', "invalid JSON at line 1"),
    ("JSON that is a number", "ae.json", b"42", "JSON must be one object or a list"),
    ("JSON with no records", "ae.json", b"[]", "holds no records"),
    (
        "Latin-1 instead of UTF-8",
        "ae.csv",
        AE_HEAD.encode() + "01-001,Fièvre\n".encode("latin-1"),
        "not UTF-8 text",
    ),
    ("binary data named .csv", "ae.csv", b"\x00\x01\x02binary\x00", "NUL bytes"),
    ("unsupported file type", "ae.pdf", b"%PDF-1.4", "unsupported file type '.pdf'"),
    ("header with an empty name", "ae.csv", b"USUBJID,,AETERM\n01-001,x,y\n", "empty column name"),
    (
        "header naming a column twice",
        "ae.csv",
        b"USUBJID,AETERM,usubjid\n1,2,3\n",
        "names the same column twice",
    ),
    (
        "no way to tell the domain",
        "export.csv",
        b"USUBJID,X\n01-001,1\n",
        "cannot tell which SDTM domain",
    ),
    ("xpt that is not SAS transport", "ae.xpt", b"STUDYID,USUBJID\n", "not a SAS transport"),
    ("xlsx that is not a workbook", "ae.xlsx", b"just text", "Excel workbook cannot be opened"),
    (
        "truncated SAS transport",
        "dm.xpt",
        (Path(__file__).parents[1] / "data" / "faults" / "truncated.xpt").read_bytes(),
        "SAS transport file cannot be read",
    ),
]


@pytest.fixture
def with_subjects(pipeline, tmp_path: Path):  # type: ignore[no-untyped-def]
    dm_file = tmp_path / "dm_base.csv"
    dm_file.write_text(DM)
    assert pipeline.ingest_paths([dm_file])[0].accepted == 2
    return pipeline


@pytest.mark.parametrize("fault", ROW_FAULTS, ids=[f.name for f in ROW_FAULTS])
def test_each_bad_row_is_quarantined_with_its_reason_and_the_good_row_goes_in(
    fault: RowFault, with_subjects, sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / fault.file
    path.write_text(fault.text, encoding="utf-8")
    outcome = with_subjects.ingest_paths([path])[0]
    assert outcome.status == "done"
    assert outcome.accepted + outcome.quarantined + outcome.pending == outcome.rows
    assert outcome.accepted >= 1, "the good row beside the bad one must still be stored"
    with with_subjects.sessions() as session:
        entries = session.scalars(
            select(QuarantineEntry).where(QuarantineEntry.file_name == fault.file)
        ).all()
    matching = [e for e in entries if fault.reason in e.reason]
    assert matching, (
        f"expected a reason containing {fault.reason!r}, got {[e.reason for e in entries]}"
    )
    entry = matching[0]
    assert entry.kind == fault.kind
    assert entry.field == fault.field
    assert (entry.row_number is not None and entry.row_number >= 2) or fault.file.endswith(".json")
    if fault.kind == "query":
        assert outcome.quarantined == 0 and outcome.queries == 1


@pytest.mark.parametrize("name,file,content,reason", FILE_FAULTS, ids=[f[0] for f in FILE_FAULTS])
def test_an_unreadable_file_moves_to_failed_with_a_reason_file(
    name: str, file: str, content: bytes, reason: str, pipeline, tmp_path: Path
) -> None:
    inbox = pipeline.inbox
    inbox.ensure()
    (inbox.root / file).write_bytes(content)
    outcome = pipeline.ingest_next()
    assert outcome is not None and outcome.status == "failed"
    assert reason in (outcome.reason or "")
    failed = list(inbox.failed.glob(f"*{file}"))
    assert len(failed) == 1
    reason_file = Path(f"{failed[0]}.reason.txt")
    assert reason in reason_file.read_text()
    with pipeline.sessions() as session:
        source = session.scalars(select(SourceFile)).one()
    assert source.status == "failed" and reason in (source.reason or "")


def test_the_worker_keeps_going_after_a_bad_file(pipeline, tmp_path: Path) -> None:
    inbox = pipeline.inbox
    inbox.ensure()
    (inbox.root / "a_broken.json").write_text("{not json")
    (inbox.root / "b_dm.csv").write_text(DM)
    outcomes = [pipeline.ingest_next(), pipeline.ingest_next(), pipeline.ingest_next()]
    assert [o.status if o else None for o in outcomes] == ["failed", "done", None]
    with pipeline.sessions() as session:
        assert len(session.scalars(select(Subject)).all()) == 2


def test_rows_of_an_unknown_subject_are_applied_when_the_subject_arrives(
    pipeline, tmp_path: Path
) -> None:
    first = tmp_path / "ae.csv"
    first.write_text(AE_HEAD + AE_GOOD)
    labs = tmp_path / "lb.csv"
    labs.write_text(LB_HEAD + LB_GOOD)
    courses = tmp_path / "ex.csv"
    courses.write_text(EX_HEAD + EX_GOOD)
    held = pipeline.ingest_paths([first, labs, courses])
    assert [o.pending for o in held] == [1, 1, 1]
    dm_file = tmp_path / "dm.csv"
    dm_file.write_text(DM)
    pipeline.ingest_paths([dm_file])
    with pipeline.sessions() as session:
        assert len(session.scalars(select(AeVersion)).all()) == 1
        assert len(session.scalars(select(LabResult)).all()) == 1
        assert len(session.scalars(select(RtCourse)).all()) == 1
        states = session.scalars(select(QuarantineEntry.state)).all()
    assert states == ["applied", "applied", "applied"]
