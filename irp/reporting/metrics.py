"""Response metrics: time to detect, acknowledge, contain and resolve, and drill results.

One SQL query reads the milestones into pandas; every figure is a vectorised groupby, so
100,000 incidents take well under the 2 s budget. Times are minutes: detect = occurred to
detected (blank when the time of occurrence is unknown); the others run from detection:
acknowledge = activated (the plan is activated), contain = contained, resolve = resolved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, text

from models import Incident

# metric -> (from, to) milestone columns of the incident table
METRICS = {
    "detect": ("occurred_at", "detected_at"),
    "acknowledge": ("detected_at", "activated_at"),
    "contain": ("detected_at", "contained_at"),
    "resolve": ("detected_at", "resolved_at"),
}
UNIT = "minutes; detect: occurred to detected, the others from detection"
MILESTONES = list(dict.fromkeys(column for span in METRICS.values() for column in span))
DIMENSIONS = ("all", "type", "priority", "month")
TABLE_COLUMNS = ["dimension", "group", "incidents"] + [
    f"{m}_{s}_min" for m in METRICS for s in ("median", "p90")
]
DRILL_COLUMNS = ["month", "drills", "targets", "met", "met_pct", "gaps"]

_SCORES = text("SELECT incident_id, held_at, kind, met FROM drill_score")


@dataclass
class Metrics:
    """The figures per dimension, drill results per month, and how many incidents counted."""

    table: pd.DataFrame
    drills: pd.DataFrame
    incidents: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "incidents": self.incidents,
            "unit": UNIT,
            "by": _records(self.table),
            "drills": _records(self.drills),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [dict(row) for row in clean.to_dict(orient="records")]


def load_incidents(engine: Engine, include_drills: bool = False) -> pd.DataFrame:
    """Milestones of every incident (drills only when asked), times parsed as UTC."""
    drill = (False, True) if include_drills else (False,)
    query = text(
        f"SELECT type, priority, {', '.join(MILESTONES)} "
        "FROM incident WHERE drill IN ({})".format(", ".join(f":d{i}" for i in range(len(drill))))
    )
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection, params={f"d{i}": d for i, d in enumerate(drill)})
    for column in MILESTONES:
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def minutes_between(frame: pd.DataFrame) -> pd.DataFrame:
    """Each metric in minutes per incident (a row of milestones); NaN where one is missing."""
    return pd.DataFrame(
        {
            m: (frame[end] - frame[start]).dt.total_seconds() / 60
            for m, (start, end) in METRICS.items()
        }
    )


def incident_times(incident: Incident) -> pd.DataFrame:
    """One incident's metrics for its report: from and to milestones and minutes, blank
    (not zero) where a milestone is missing."""
    frame = pd.DataFrame([{c: getattr(incident, c) for c in MILESTONES}])
    for column in MILESTONES:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    minutes = minutes_between(frame).iloc[0]
    rows = [
        {"time to": metric, "from": start[:-3], "to": end[:-3], "minutes": minutes[metric]}
        for metric, (start, end) in METRICS.items()
    ]
    return pd.DataFrame(rows, columns=["time to", "from", "to", "minutes"])


def compute(frame: pd.DataFrame) -> pd.DataFrame:
    """Median and 90th percentile minutes per metric for all, each type, priority and month."""
    detected = frame["detected_at"]
    minutes = minutes_between(frame)
    months = detected.dt.year * 100 + detected.dt.month
    keys = {
        "all": pd.Series("all", index=frame.index),
        "type": frame["type"].astype("string"),
        "priority": frame["priority"].astype("string").fillna("unset"),
        "month": months,
    }
    parts = []
    for dimension in DIMENSIONS:
        grouped = minutes.groupby(keys[dimension].to_numpy(), sort=True)
        median, p90 = grouped.median(), grouped.quantile(0.9)
        part = pd.DataFrame({"incidents": grouped.size()})
        for metric in METRICS:
            part[f"{metric}_median_min"] = median[metric]
            part[f"{metric}_p90_min"] = p90[metric]
        part.index = [_label(dimension, key) for key in part.index]
        parts.append(part.rename_axis("group").reset_index().assign(dimension=dimension))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    table = table.reindex(columns=TABLE_COLUMNS)
    numbers = [c for c in TABLE_COLUMNS if c.endswith("_min")]
    table[numbers] = table[numbers].astype(float).round(2)
    table["incidents"] = table["incidents"].astype(int)
    return table


def _label(dimension: str, key: object) -> str:
    if dimension == "month":
        number = int(key)  # type: ignore[call-overload]
        return f"{number // 100:04d}-{number % 100:02d}"
    return str(key)


def drill_results(engine: Engine) -> pd.DataFrame:
    """Per month: drills scored, targets, targets met (and %), gaps found."""
    with engine.connect() as connection:
        scores = pd.read_sql(_SCORES, connection)
    if scores.empty:
        return pd.DataFrame(columns=DRILL_COLUMNS)
    held = pd.to_datetime(scores["held_at"], utc=True, format="ISO8601")
    scores["month"] = held.dt.strftime("%Y-%m")
    scores["met"] = scores["met"].astype(bool)
    targets = scores[scores["kind"] != "gap"]
    out = pd.DataFrame(
        {
            "drills": scores.groupby("month")["incident_id"].nunique(),
            "targets": targets.groupby("month").size(),
            "met": targets.groupby("month")["met"].sum(),
            "gaps": scores[scores["kind"] == "gap"].groupby("month").size(),
        }
    ).fillna(0)
    out = out.astype(int)
    out["met_pct"] = (100 * out["met"] / out["targets"].where(out["targets"] > 0)).round(1)
    return out.rename_axis("month").reset_index().reindex(columns=DRILL_COLUMNS)


def collect(engine: Engine, include_drills: bool = False) -> Metrics:
    frame = load_incidents(engine, include_drills)
    return Metrics(compute(frame), drill_results(engine), len(frame))


def write_outputs(result: Metrics, folder: Path) -> list[Path]:
    """metrics.csv, drills.csv and metrics.json in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "metrics.csv", folder / "drills.csv", folder / "metrics.json"]
    result.table.to_csv(written[0], index=False)
    result.drills.to_csv(written[1], index=False)
    written[2].write_text(result.to_json(), encoding="utf-8")
    return written


def render(result: Metrics, fmt: str) -> str:
    """The figures as a plain-text table, CSV or JSON for stdout."""
    if fmt == "json":
        return result.to_json()
    if fmt == "csv":
        return str(result.table.to_csv(index=False))
    if result.table.empty or result.incidents == 0:
        body = "no incidents"
    else:
        body = result.table.to_string(index=False, na_rep="-")
    text_ = f"Minutes ({UNIT}; {result.incidents} incidents)\n{body}\n"
    if not result.drills.empty:
        text_ += "\nDrill results per month\n" + result.drills.to_string(index=False, na_rep="-")
        text_ += "\n"
    return text_


def chart(result: Metrics, path: Path) -> Path:
    """A PNG: median minutes per type for each metric, and drill targets met per month."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if not result.drills.empty else 1
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    by_type = result.table[result.table["dimension"] == "type"].set_index("group")
    medians = by_type[[f"{m}_median_min" for m in METRICS]]
    medians.columns = list(METRICS)
    if medians.empty:
        axes[0][0].text(0.5, 0.5, "no incidents", ha="center")
    else:
        medians.plot.bar(ax=axes[0][0], rot=20)
    axes[0][0].set_title("Median minutes, by type")
    axes[0][0].set_ylabel("minutes")
    if panels == 2:
        drills = result.drills.set_index("month")
        drills["met_pct"].plot(ax=axes[0][1], marker="o", ylim=(0, 105))
        axes[0][1].set_title("Drill targets met (%)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
    return path
