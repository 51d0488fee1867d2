"""The report as one self-contained HTML file: the template ships in the package, plots are PNGs embedded as
base64 data URIs, no script and no external resource (it opens from a mail attachment or an archive)."""

from __future__ import annotations

import base64
import io
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from features.schema import SCHEMA
from matcher.drift import bin_shares
from matcher.monitor import STAGES
from service.report.gather import Report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DRIFT_PLOTS = 6
"""Features whose distributions are drawn (the highest PSI first); the table lists every feature."""
EXPOSURE_GROUPS = 8
"""Groups per attribute in the exposure plot (the most shown or most relevant)."""


def render(report: Report) -> str:
    """The HTML of ``report``."""
    env = Environment(loader=PackageLoader("service.report", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["num"] = _num
    return env.get_template("report.html").render(
        r=report,
        stages=STAGES,
        psi_rows=[] if report.psi is None else report.psi.to_dict(orient="records"),
        rate_rows=[] if report.rates is None else report.rates.to_dict(orient="records"),
        exposure_rows=[] if report.exposure is None else report.exposure.to_dict(orient="records"),
        drift_png=_png(_drift_plot(report)) if report.psi is not None else None,
        rates_png=_png(_rates_plot(report.rates)) if report.rates is not None and len(report.rates) > 1 else None,
        exposure_png=_png(_exposure_plot(report.exposure)) if _has_rows(report.exposure) else None,
    )


def _has_rows(table: pd.DataFrame | None) -> bool:
    return table is not None and not table.empty and table["shown"].sum() > 0


def _num(value: object, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):.{digits}f}"


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _drift_plot(report: Report) -> Figure:
    """The reference and recent shares per bin of the features with the highest PSI."""
    from matplotlib.figure import Figure

    top = report.psi.dropna(subset=["psi"]).head(DRIFT_PLOTS)
    cols = 3
    rows = max(1, math.ceil(len(top) / cols))
    fig = Figure(figsize=(11, 2.8 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    names = SCHEMA.names
    for ax, (_, row) in zip(axes, top.iterrows(), strict=False):
        entry = report.champion.profile[row["feature"]]
        column = report.recent_rows[:, names.index(row["feature"])]
        recent = bin_shares(entry, column[np.isfinite(column)])
        labels = _bin_labels(entry)
        x = np.arange(len(labels))
        ax.bar(x - 0.2, entry["shares"], 0.4, label="training")
        ax.bar(x + 0.2, recent, 0.4, label="recent")
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
        ax.set_title(f"{row['feature']}  PSI {row['psi']:.2f}", fontsize=9, color="C3" if row["flagged"] else "k")
        ax.legend(fontsize=7)
    for ax in axes[len(top) :]:
        ax.set_visible(False)
    return fig


def _bin_labels(entry: dict) -> list[str]:
    if entry["kind"] == "categorical":
        return [f"{v:g}" for v in entry["values"]] + ["other"]
    edges = entry["edges"]
    return [f"<{edges[0]:.2g}" if edges else "all"] + [f"≥{e:.2g}" for e in edges]


def _rates_plot(rates: pd.DataFrame) -> Figure:
    from matplotlib.figure import Figure

    kinds = rates[rates["kind"] != "all"]
    fig = Figure(figsize=(10, 3.5), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(kinds), 1)
    x = np.arange(len(STAGES))
    for i, (_, row) in enumerate(kinds.iterrows()):
        ax.bar(x + i * width, [0 if pd.isna(row[s]) else row[s] for s in STAGES], width, label=row["kind"])
    ax.set_xticks(x + width * (len(kinds) - 1) / 2, STAGES)
    ax.set_ylabel("actions per shown candidate")
    ax.legend(fontsize="small")
    return fig


def _exposure_plot(table: pd.DataFrame) -> Figure:
    from matplotlib.figure import Figure

    attributes = list(dict.fromkeys(table["attribute"]))
    fig = Figure(figsize=(11, 2.8 * math.ceil(len(attributes) / 2)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(math.ceil(len(attributes) / 2), 2)).ravel()
    for ax, attribute in zip(axes, attributes, strict=False):
        part = table[table["attribute"] == attribute]
        part = part.assign(size=part["shown"] + part["relevant"]).nlargest(EXPOSURE_GROUPS, "size")
        x = np.arange(len(part))
        ax.bar(x - 0.2, part["exposure_share"], 0.4, label="exposure share")
        ax.bar(x + 0.2, part["relevant_share"], 0.4, label="relevant share")
        ax.set_xticks(x, part["group"], rotation=30, ha="right", fontsize=7)
        ax.set_title(attribute, fontsize=9)
        ax.legend(fontsize=7)
    for ax in axes[len(attributes) :]:
        ax.set_visible(False)
    return fig
