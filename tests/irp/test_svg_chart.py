"""The report's stage-duration chart: inline SVG, labels escaped, bars to scale."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from irp.reporting.svg_chart import PLOT_PX, bar_chart

pytestmark = pytest.mark.no_database


def test_bars_are_to_scale_and_labels_are_escaped() -> None:
    svg = bar_chart([("report", 2.0), ("<script>response</script>", 8.0)])
    root = ElementTree.fromstring(svg)  # well-formed: a label cannot inject markup
    widths = [float(r.get("width", "0")) for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert widths == [PLOT_PX / 4, PLOT_PX]
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["report", "2.0 s", "<script>response</script>", "8.0 s"]
    assert "<script>" not in svg and re.search(r"&lt;script&gt;", svg)


def test_no_bars_no_chart() -> None:
    assert bar_chart([]) == ""
