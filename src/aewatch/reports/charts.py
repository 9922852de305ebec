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
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

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
RT_COLOUR = "#31a354"


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
    """The rule as it happened: cumulative toxic patients against evaluable patients in the
    rule's order (one step per patient), the boundary as a step line, the crossing marked.

    ``trajectory`` is ``aewatch.reports.stopping.trajectory``: n, toxic, toxic_n,
    stop_at, crossed_here. The crossing marker carries the SVG id ``crossing``.
    """
    with _figure(6.4, 3.0) as fig:
        ax = fig.subplots()
        top = 1
        if not boundary.empty and {"n", "stop_at"} <= set(boundary.columns):
            bound = boundary.dropna(subset=["stop_at"]).sort_values("n")
            if not bound.empty:
                ax.step(
                    bound["n"].astype(float),
                    bound["stop_at"].astype(float),
                    where="mid",
                    color="#b30000",
                    linewidth=1.2,
                    label="boundary: stop when toxic ≥",
                )
                top = max(top, int(bound["stop_at"].max()))
        if not trajectory.empty:
            n = [0.0, *trajectory["n"].astype(float)]
            count = [0.0, *trajectory["toxic_n"].astype(float)]
            ax.step(n, count, where="post", color="#08519c", linewidth=1.2, label="toxic patients")
            toxic = trajectory[trajectory["toxic"]]
            ax.scatter(
                toxic["n"].astype(float),
                toxic["toxic_n"].astype(float),
                color="#08519c",
                s=12,
                zorder=3,
                label="a toxic patient",
            )
            top = max(top, int(trajectory["toxic_n"].max()))
            crossed = trajectory[trajectory["crossed_here"]]
            if not crossed.empty:
                at = crossed.iloc[0]
                ax.scatter(
                    [float(at["n"])],
                    [float(at["toxic_n"])],
                    s=90,
                    facecolors="none",
                    edgecolors="#b30000",
                    linewidths=1.6,
                    zorder=4,
                    gid="crossing",
                    label="crossed (latched)",
                )
                ax.annotate(
                    f"crossed at n = {int(at['n'])} ({int(at['toxic_n'])} toxic)",
                    (float(at["n"]), float(at["toxic_n"])),
                    textcoords="offset points",
                    xytext=(6, 8),
                    color="#b30000",
                )
            last = trajectory.iloc[-1]
            ax.annotate(
                f"now {int(last['toxic_n'])} of {int(last['n'])}",
                (float(last["n"]), float(last["toxic_n"])),
                textcoords="offset points",
                xytext=(4, -12),
                color="#08519c",
            )
        ax.set_xlim(0, max(planned, 1) + 0.5)
        ax.set_ylim(0, top + 1.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("evaluable patients, in the order their outcome became known")
        ax.set_ylabel("patients with a qualifying toxicity")
        ax.set_title(rule_name, loc="left")
        ax.grid(alpha=0.3)
        fig.legend(loc="outside lower center", frameon=False, ncols=4, fontsize=7)
        return _svg(fig)


def edish_chart(peaks: pd.DataFrame, label_subjects: bool) -> str:
    """eDISH: peak ALT or AST × ULN against peak bilirubin × ULN, log scales, with the
    Hy's law lines; subject labels only in the closed part."""
    shown = peaks.dropna(subset=["peak_transaminase_x_uln", "peak_bili_x_uln"])
    with _figure(5.2, 4.0) as fig:
        ax = fig.subplots()
        x = shown["peak_transaminase_x_uln"].clip(lower=0.1).astype(float)
        y = shown["peak_bili_x_uln"].clip(lower=0.1).astype(float)
        flagged = shown["quadrant"] != "Normal range"
        ax.scatter(x[~flagged], y[~flagged], s=14, color="#6baed6", label="patient")
        ax.scatter(x[flagged], y[flagged], s=18, color="#e6550d", label="outside normal range")
        if label_subjects:
            for subject, xi, yi in zip(
                shown["subject_id"][flagged], x[flagged], y[flagged], strict=True
            ):
                ax.annotate(
                    str(subject), (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=6
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_ticks(ax.xaxis, (0.1, 0.3, 1, 3, 10, 30, 100))
        _plain_log_ticks(ax.yaxis, (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50))
        limit_x, limit_y = 3.0, 2.0
        ax.axvline(limit_x, color="#636363", linestyle="--", linewidth=0.8)
        ax.axhline(limit_y, color="#636363", linestyle="--", linewidth=0.8)
        ax.set_xlim(0.1, max(30.0, float(x.max()) * 1.5 if len(x) else 30.0))
        ax.set_ylim(0.1, max(20.0, float(y.max()) * 1.5 if len(y) else 20.0))
        for text, xy, align in (
            ("Potential Hy's law", (0.98, 0.98), "right"),
            ("Hyperbilirubinemia", (0.02, 0.98), "left"),
            ("Temple's corollary", (0.98, 0.02), "right"),
            ("Normal range", (0.02, 0.02), "left"),
        ):
            ax.text(
                *xy,
                text,
                transform=ax.transAxes,
                ha=align,
                va="top" if xy[1] > 0.5 else "bottom",
                color="#636363",
                fontsize=7,
            )
        ax.set_xlabel("peak ALT or AST (× ULN)")
        ax.set_ylabel("peak total bilirubin (× ULN)")
        fig.legend(loc="outside lower center", frameon=False, ncols=2, fontsize=7)
        return _svg(fig)


def liver_panel_chart(panel: pd.DataFrame, subjects: list[str]) -> str:
    """Closed part: ALT, AST, ALP and bilirubin × ULN over study days, one panel each."""
    colours = {"ALT": "#08519c", "AST": "#6baed6", "ALP": "#31a354", "BILI": "#e6550d"}
    columns = max(1, min(4, len(subjects)))
    rows = max(1, -(-len(subjects) // columns))
    with _figure(min(6.8, 1.0 + 1.7 * columns), 0.9 + 1.6 * rows) as fig:
        axes = fig.subplots(rows, columns, squeeze=False, sharey=True)
        for index, ax in enumerate(axes.flat):
            if index >= len(subjects):
                ax.set_axis_off()
                continue
            subject = subjects[index]
            mine = panel[panel["subject_id"] == subject]
            for test, colour in colours.items():
                series = mine[mine["test_code"] == test].dropna(subset=["study_day"])
                if series.empty:
                    continue
                ax.plot(
                    series["study_day"].astype(float),
                    series["x_uln"].clip(lower=0.1).astype(float),
                    color=colour,
                    marker="o",
                    markersize=2,
                    linewidth=0.9,
                    label=test if index == 0 else None,
                )
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis, (0.2, 0.5, 1, 2, 3, 5, 10, 20))
            ax.axhline(1.0, color="#bdbdbd", linewidth=0.6)
            ax.axhline(3.0, color="#636363", linestyle="--", linewidth=0.6)
            ax.set_title(subject, fontsize=7, loc="left")
            ax.tick_params(labelsize=6)
        fig.supxlabel("study day", fontsize=7)
        fig.supylabel("× ULN (log)", fontsize=7)
        fig.legend(loc="outside upper center", frameon=False, ncols=4, fontsize=7)
        return _svg(fig)


def _plain_log_ticks(axis: object, ticks: tuple[float, ...]) -> None:
    """Log axes labelled 0.5, 1, 2, 3 … (what a clinician reads), not 10^0."""
    axis.set_major_locator(FixedLocator(list(ticks)))  # type: ignore[attr-defined]
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # type: ignore[attr-defined]
    axis.set_minor_locator(NullLocator())  # type: ignore[attr-defined]


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
                color=RT_COLOUR,
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
        ax.set_yticks(chosen.index, chosen["subject_id"], fontsize=6)
        ax.set_xlabel("days from first RT")
        ax.set_xlim(left=0)
        # Explicit handles: an empty bar drawn only for its label gave the legend no RT
        # patch (or the default colour), so the RT bars were unexplained.
        handles = [
            Patch(facecolor="#d9d9d9", label="follow-up"),
            Patch(facecolor=RT_COLOUR, label="RT course"),
        ]
        handles += [h for h in ax.get_legend_handles_labels()[0] if h.get_label() != "follow-up"]
        fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize=7)
        return _svg(fig)
