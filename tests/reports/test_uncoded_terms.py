"""A site's term that is not a CTCAE term, with no SOC, is still counted (as an uncoded
term in an unclassified SOC) instead of failing `aewatch counts` and the report."""

from __future__ import annotations

import pandas as pd

from aewatch.reports.snapshot import normalise_ae


def test_an_uncoded_term_without_a_soc_is_counted_as_unclassified() -> None:
    frame = pd.DataFrame(
        [("Gastrointestinal disorders", "Nausea", 2), (None, None, 4)],
        columns=["ctcae_soc", "ctcae_term", "grade"],
    )
    assert normalise_ae(frame)[["ctcae_soc", "ctcae_term"]].values.tolist() == [
        ["Gastrointestinal disorders", "Nausea"],
        ["Unclassified", "Uncoded term"],
    ]


def test_a_known_term_without_a_soc_gets_its_ctcae_soc_beside_an_uncoded_one() -> None:
    frame = pd.DataFrame(
        [(None, "Fatigue", 1), (None, None, 4)], columns=["ctcae_soc", "ctcae_term", "grade"]
    )
    assert normalise_ae(frame)["ctcae_soc"].tolist() == [
        "General disorders and administration site conditions",
        "Unclassified",
    ]
