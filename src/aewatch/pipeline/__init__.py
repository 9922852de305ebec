"""One file's way through aewatch, as ordered stages (DESIGN "The flow").

    read → map → check → plausibility → code                         before the transaction (pure)
    store → exposure → emergence → reconcile → grade → derive → rules → alerts   one transaction

| stage     | module         | does                                                        |
|-----------|----------------|-------------------------------------------------------------|
| read, map | ``read``       | bytes → SDTM-named tables per domain (aewatch.ingest)        |
| check     | ``check``      | typed values; a fault with its reason for every bad row      |
| plausib.  | ``plausibility`` | impossible values kept, flagged, queried, never graded    |
| code      | ``code``       | AE log-form merge, CTCAE coding, monitor queries; EX records |
| store     | ``store``      | quarantine, hold unknown subjects, write rows (aewatch.store)|
| exposure  | ``exposure``   | RT courses rebuilt from each touched subject's EX records    |
| emergence | ``emergence``  | a pre-RT AE that worsens after RT split: the worsening counts|
| reconcile | ``reconcile``  | deaths recorded in DM or AE only, across files               |
| grade     | ``grade``      | CTCAE lab grades of every touched subject                    |
| derive    | ``derive``     | lab-derived AEs, RILD and Hy's law as AEs                    |
| rules     | ``rules``      | stopping-rule status, threshold alerts on a change of state  |
| alerts    | ``alerts``     | every alert the file calls for, into the outbox              |

``transaction`` lists the stages in order; ``runner`` claims a file, prepares it,
runs the stages in one transaction and files it in done/ or failed/; ``context``
holds what the stages share.

How to add a stage: write ``pipeline/<name>.py`` with one function
``<name>(ctx: FileContext, so_far: Touched) -> Touched`` (or, before the transaction,
a pure function of a table, the settings and the file's receipt time); read what
earlier stages touched from ``so_far``, do the database work through aewatch.store, and
return only what this stage touched (add a field to ``Touched`` if a later stage needs
something new). Put it in its place in ``transaction.py``. A stage imports the layers
below it (ingest, store, ctcae, safety, alerts) and earlier stages, never the runner or a
later stage; tests/test_architecture.py fails otherwise.
"""

from aewatch.pipeline.context import FileOutcome
from aewatch.pipeline.runner import Pipeline

__all__ = ["FileOutcome", "Pipeline"]
