"""CTCAE v5.0 grading: pure functions, DataFrame in, DataFrame out.

Modules, one job each:

- ``dictionary``: the 837 CTCAE v5.0 terms; coding of AE terms (``code_terms``).
- ``reported``: data queries on site-reported grades (``check_reported_grades``).
- ``labs``: lab baselines and lab toxicity grades (``derive_baseline``, ``grade_labs``).
- ``rules``, ``units``, ``isodates``, ``numeric``: the lab rule tables, unit spellings and
  conversions, partial ISO 8601 dates and 15-significant-digit comparisons behind ``labs``.
- ``liver_scores``: Child-Pugh and ALBI; ``hepatic``: liver timelines, RILD and Hy's law.
- ``dose``: BED and EQD2.
- ``standalone``: grade an SDTM LB file end to end (``grade_lab_file``).

Nothing here reads a database or ``../shared``: the facts ship in ``ctcae/data/``.
This ``__init__`` imports nothing heavy, so ``import aewatch.ctcae`` stays cheap.
"""

DICTIONARY_VERSION = "CTCAE v5.0 (2017-11-27)"

__all__ = ["DICTIONARY_VERSION"]
