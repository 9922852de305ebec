"""Report charts as byte-stable SVG (matplotlib Agg, fixed hash salt, no date metadata).

Same data → same bytes, so a regenerated report is identical and diffs stay readable.
Axes use study days, never calendar dates per patient (safety_domain §7).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

GRADE_COLOURS = {1: "#c6dbef", 2: "#6baed6", 3: "#fd8d3c", 4: "#e6550d", 5: "#7f2704"}
STYLE = {
    "svg.hashsalt": "aewatch",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
SWIMMER_MAX_PATIENTS = 60


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    with matplotlib.rc_context(STYLE):
        yield Figure(figsize=(width, height), dpi=100, layout="constrained")


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def stopping_boundary_chart(
    rule_name: str, boundary: pd.DataFrame, trajectory: pd.DataFrame, planned: int
) -> str:
    """Toxic vs evaluable patients at each evaluation, against the stop-at boundary."""
    with _figure(6.4, 3.0) as fig:
        ax = fig.subplots()
        if not boundary.empty and {"n", "stop_at"} <= set(boundary.columns):
            bound = boundary.dropna(subset=["stop_at"]).sort_values("n")
            ax.step(
                bound["n"],
                bound["stop_at"],
                where="post",
                color="#b30000",
                label="stop when toxic ≥ boundary",
            )
        top = 1
        if not boundary.empty and {"n", "stop_at"} <= set(boundary.columns):
            stops = boundary["stop_at"].dropna()
            top = max(top, int(stops.max())) if len(stops) else top
        if not trajectory.empty:
            # Points joined by straight lines: evaluations are sparse, so a step line
            # would draw counts that were never observed.
            ax.plot(
                trajectory["evaluable_n"],
                trajectory["toxic_n"],
                color="#08519c",
                marker="o",
                markersize=3,
                linewidth=1,
                label="observed",
            )
            last = trajectory.iloc[-1]
            top = max(top, int(trajectory["toxic_n"].max()))
            ax.annotate(
                f"{int(last['toxic_n'])}/{int(last['evaluable_n'])}",
                (last["evaluable_n"], last["toxic_n"]),
                textcoords="offset points",
                xytext=(4, 4),
                color="#08519c",
            )
        ax.set_xlim(0, max(planned, 1))
        ax.set_ylim(0, top + 1)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("evaluable patients")
        ax.set_ylabel("patients with a qualifying toxicity")
        ax.set_title(rule_name, loc="left")
        ax.grid(alpha=0.3)
        fig.legend(loc="outside lower center", frameon=False, ncols=2, fontsize=7)
        return _svg(fig)


def accrual_chart(accrual: pd.DataFrame, planned: int) -> str:
    """Cumulative enrolment by month against the planned total."""
    with _figure(6.4, 2.6) as fig:
        ax = fig.subplots()
        if not accrual.empty:
            months = list(accrual["month"])
            ax.bar(months, accrual["total"], color="#9ecae1", label="enrolled in month")
            ax.plot(
                months,
                accrual["cumulative"],
                color="#08519c",
                marker="o",
                markersize=3,
                label="cumulative",
            )
            step = max(1, len(months) // 12)
            ax.set_xticks(range(0, len(months), step), months[::step], rotation=45, ha="right")
        ax.axhline(
            planned, color="#636363", linestyle="--", linewidth=1, label=f"planned ({planned})"
        )
        ax.set_ylabel("patients")
        fig.legend(loc="outside lower center", frameon=False, ncols=3, fontsize=7)
        return _svg(fig)


def worst_grade_by_soc_chart(by_soc: pd.DataFrame, population_n: int) -> str:
    """Patients by worst grade per SOC (% of the safety population), largest SOC on top."""
    top = by_soc.sort_values(["patients", "soc"], ascending=[True, False]).tail(15)
    labels = [textwrap.shorten(soc, 60, placeholder="…") for soc in top["soc"]]
    labels = ["\n".join(textwrap.wrap(label, 32)) for label in labels]
    height = 1.1 + 0.32 * max(len(top), 1)
    with _figure(6.4, height) as fig:
        ax = fig.subplots()
        left = pd.Series(0.0, index=top.index)
        for grade, colour in GRADE_COLOURS.items():
            share = top[f"grade_{grade}"] * 100.0 / max(population_n, 1)
            ax.barh(labels, share, left=left, color=colour, label=f"grade {grade}")
            left = left + share
        ax.set_xlabel("% of safety population (worst grade per patient)")
        ax.set_xlim(0, 100)
        fig.legend(loc="outside lower center", frameon=False, ncols=5, fontsize=7)
        return _svg(fig)


def swimmer_chart(follow: pd.DataFrame, rt_courses: pd.DataFrame, events: pd.DataFrame) -> str:
    """Per patient: follow-up from RT day 1, RT courses, AEs grade ≥ 3, death."""
    severe = events[events["grade"] >= 3]
    chosen = follow.dropna(subset=["first_rt_on"]).copy()
    chosen["has_severe"] = chosen["subject_id"].isin(severe["subject_id"])
    chosen = chosen.sort_values(
        ["has_severe", "follow_up_days", "subject_id"], ascending=[False, False, True]
    ).head(SWIMMER_MAX_PATIENTS)
    chosen = chosen.iloc[::-1].reset_index(drop=True)
    height = 1.0 + 0.18 * max(len(chosen), 1)
    with _figure(6.4, height) as fig:
        ax = fig.subplots()
        row = {s: i for i, s in enumerate(chosen["subject_id"])}
        start = chosen.set_index("subject_id")["first_rt_on"]
        ax.barh(
            chosen.index,
            chosen["follow_up_days"].fillna(0).astype(float),
            color="#d9d9d9",
            height=0.6,
            label="follow-up",
        )
        courses = rt_courses[rt_courses["subject_id"].isin(row)]
        for course in courses.itertuples(index=False):
            if pd.isna(course.start_on):
                continue
            day0 = (course.start_on - start[course.subject_id]).days
            end = course.end_on if pd.notna(course.end_on) else course.start_on
            ax.barh(
                row[course.subject_id],
                max((end - course.start_on).days + 1, 1),
                left=day0,
                color="#31a354",
                height=0.6,
            )
        mine = severe[severe["subject_id"].isin(row) & severe["onset_on"].notna()]
        for grade, colour in GRADE_COLOURS.items():
            at = mine[mine["grade"] == grade]
            if at.empty:
                continue
            days = [
                (o - start[s]).days for s, o in zip(at["subject_id"], at["onset_on"], strict=True)
            ]
            ax.scatter(
                days,
                [row[s] for s in at["subject_id"]],
                color=colour,
                marker="D",
                s=14,
                zorder=3,
                label=f"AE grade {grade}",
            )
        died = chosen[chosen["status"] == "died"]
        ax.scatter(
            died["follow_up_days"].astype(float),
            died.index,
            marker="x",
            color="black",
            s=20,
            zorder=4,
            label="death",
        )
        ax.barh([], [], color="#31a354", label="RT")
        ax.set_yticks(chosen.index, chosen["subject_id"], fontsize=6)
        ax.set_xlabel("days from first RT")
        ax.set_xlim(left=0)
        fig.legend(loc="outside right upper", frameon=False, fontsize=7)
        return _svg(fig)
