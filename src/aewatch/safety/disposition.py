"""When a patient died or left follow-up, from DM and the DS domain alike (pure pandas).

Sites record a death in DM (DTHDTC), in DS (DSDECOD = DEATH) or in both, and a
withdrawal in DM (WITHDTC) or DS; a death recorded in one domain only is still a death.
The earliest date of each wins. Lost to follow-up (DS) ends follow-up like a
withdrawal: the stopping rules cannot follow such a patient through the window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names below are also read where pandas is not loaded (`status`)
    import pandas as pd

DEATH = "death"
WITHDRAWAL = "withdrawal"
LOST = "lost to follow-up"


def end_of_follow_up(
    subjects: pd.DataFrame, dispositions: pd.DataFrame, key: str = "subject_id"
) -> pd.DataFrame:
    """``subjects`` with ``died_on`` and ``withdrawn_on`` taken over DM and DS, plus
    ``lost_on`` (DS), ``left_on`` (withdrawn or lost) and ``death_recorded_in``.

    ``dispositions`` has ``key``, ``disposition`` and ``start_on`` in the same date dtype
    as the subjects' columns; only rows the caller's data cut keeps should be passed.
    """
    import pandas as pd

    frame = subjects.copy()
    firsts = (
        dispositions[dispositions["disposition"].isin([DEATH, WITHDRAWAL, LOST])]
        .dropna(subset=["start_on"])
        .groupby([key, "disposition"])["start_on"]
        .min()
        .unstack()
        .reindex(columns=[DEATH, WITHDRAWAL, LOST])
    )

    def from_ds(kind: str) -> pd.Series:
        values = firsts[kind].reindex(frame[key]).to_numpy() if len(firsts) else None
        if values is None:
            return pd.Series(pd.NaT, index=frame.index, dtype=frame["died_on"].dtype)
        return pd.Series(values, index=frame.index).astype(frame["died_on"].dtype)

    ds_death, ds_withdrawn, ds_lost = from_ds(DEATH), from_ds(WITHDRAWAL), from_ds(LOST)
    in_dm, in_ds = frame["died_on"].notna(), ds_death.notna()
    frame["death_recorded_in"] = None
    frame.loc[in_dm & ~in_ds, "death_recorded_in"] = "DM"
    frame.loc[~in_dm & in_ds, "death_recorded_in"] = "DS"
    frame.loc[in_dm & in_ds, "death_recorded_in"] = "DM and DS"
    frame["died_on"] = pd.concat([frame["died_on"], ds_death], axis=1).min(axis=1)
    frame["withdrawn_on"] = pd.concat([frame["withdrawn_on"], ds_withdrawn], axis=1).min(axis=1)
    frame["lost_on"] = ds_lost
    frame["left_on"] = pd.concat([frame["withdrawn_on"], ds_lost], axis=1).min(axis=1)
    return frame
