"""Lab-derived AEs and the site AEs that report the same abnormality (pure pandas).

aewatch derives an AE from a lab grade the site has not reported (aewatch.pipeline.derive).
When the site then reports it, the two are one event: counting both would show ALT
increased in one patient as two events, and keep the unattributed lab copy "related" in
the RT rule after the site judged it unlikely related. So a site AE of the same CTCAE
term and subject whose period (onset to end, or still ongoing, widened by
``link_days`` on each side) holds the lab-derived AE's day is *linked*: the site AE
counts, with its grade and attribution; the lab-derived AE is set aside, its lab grade
kept as evidence. A lab grade higher than the site's is a query (the site may have
under-graded); a lab-derived AE no site AE reports asks the site for attribution.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from aewatch.safety.data_queries import DeathQuery as CrossDomainQuery

PREFIX = "LAB:"


def link_lab_events(lab: pd.DataFrame, site: pd.DataFrame, link_days: int) -> dict[int, int | None]:
    """Lab-derived AE pk → the site AE pk it is linked to (None: unlinked).

    ``lab``: subject_id, ae_pk, ctcae_term, onset_on (the lab day). ``site``: subject_id,
    ae_pk, ctcae_term, onset_on, end_on. Of several matches, the site AE whose onset is
    nearest the lab day (then the lowest pk) wins.
    """
    links: dict[int, int | None] = {int(pk): None for pk in lab["ae_pk"]}
    if lab.empty or site.empty:
        return links
    pairs = lab.merge(site, on=["subject_id", "ctcae_term"], suffixes=("", "_site"))
    pairs = pairs.dropna(subset=["onset_on", "onset_on_site"])
    if pairs.empty:
        return links
    slack = timedelta(days=link_days)
    day = pd.to_datetime(pairs["onset_on"])
    start = pd.to_datetime(pairs["onset_on_site"]) - slack
    end = pd.to_datetime(pairs["end_on_site"]) + slack
    inside = (day >= start) & (end.isna() | (day <= end))
    pairs = pairs[inside.to_numpy()].assign(
        _distance=(day[inside] - pd.to_datetime(pairs.loc[inside, "onset_on_site"])).abs()
    )
    best = pairs.sort_values(["ae_pk", "_distance", "ae_pk_site"]).drop_duplicates("ae_pk")
    for lab_pk, site_pk in zip(best["ae_pk"], best["ae_pk_site"], strict=True):
        links[int(lab_pk)] = int(site_pk)
    return links


def lab_link_queries(
    lab: pd.DataFrame, site: pd.DataFrame, links: dict[int, int | None]
) -> list[CrossDomainQuery]:
    """A higher lab grade than the linked site AE's, and an unlinked lab-derived AE.

    ``lab`` also holds ``ae_key`` and ``grade``; ``site`` also ``ae_key`` and ``grade``.
    """
    site_by_pk = site.set_index("ae_pk") if not site.empty else site
    out: list[CrossDomainQuery] = []
    for row in lab.itertuples(index=False):
        linked = links.get(int(row.ae_pk))
        day = row.onset_on.isoformat()[:10] if hasattr(row.onset_on, "isoformat") else "?"
        if linked is None:
            out.append(
                CrossDomainQuery(
                    str(row.subject_id),
                    "AE",
                    f"{PREFIX}UNREPORTED:{row.ctcae_term}",
                    "AEREL",
                    None,
                    f"Laboratory values grade {row.ctcae_term} {row.grade} (CTCAE v5.0) on "
                    f"{day} and no AE reports it: report it as an AE with its relationship "
                    "to radiotherapy (AEREL), or say why it is not an adverse event; until "
                    "then it counts as each stopping rule's missing_attribution says",
                    ae_pk=None,
                )
            )
            continue
        site_row = site_by_pk.loc[linked]
        site_grade = pd.to_numeric(pd.Series([site_row["grade"]]), errors="coerce").iat[0]
        if pd.notna(row.grade) and (pd.isna(site_grade) or int(row.grade) > int(site_grade)):
            shown = "missing" if pd.isna(site_grade) else str(int(site_grade))
            out.append(
                CrossDomainQuery(
                    str(row.subject_id),
                    "AE",
                    f"{PREFIX}GRADE:{site_row['ae_key']}",
                    "AETOXGR",
                    None if pd.isna(site_grade) else shown,
                    f"AE {site_row['ae_key']} ({row.ctcae_term}) is grade {shown} but the "
                    f"laboratory values grade it {row.grade} on {day} (CTCAE v5.0): review "
                    "the grade and correct AETOXGR, or confirm it",
                    ae_pk=linked,
                )
            )
    return out
