"""Study-treatment exposure as sites record it (SDTM EX), pure: no database.

Sites send radiotherapy one record per fraction, per constant-dose interval or per
course, often in several files over weeks, and mix first-line systemic drugs into EX.
This package turns stored EX records into what the trial reasons about:

- ``vocabulary``: EXTRT → radiotherapy, systemic drug or unknown; EXLOC → liver or not;
  dose units → Gy (the words are data, in ``exposure/data/``);
- ``records``: what each record is, and the data queries it raises by itself;
- ``courses``: radiotherapy courses from records: fractions, BED Σdᵢ(1 + dᵢ/(α/β)),
  EQD2, plausibility, the deviation check;
- ``systemic``: first-line systemic therapy per patient and drug: dates, dose changes,
  interruptions;
- ``rules``: the trial's settings these need.

The rules and every reading chosen are in docs/exposure.md.
"""
