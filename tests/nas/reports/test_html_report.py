"""report.html renders where report.md does not (MLflow's artifact viewer): the same sections, tables as HTML
tables and the figures embedded."""

from __future__ import annotations

import base64
from pathlib import Path

from nas.reports import ReportSection, html_beside, plot_best_so_far, write_report
from nas.reports.html_report import markdown_table_html


def test_html_beside_the_markdown_embeds_figures_and_renders_tables(tmp_path: Path) -> None:
    folder = tmp_path / "report"
    curve = plot_best_so_far({"random": ([1, 2], [0.1, 0.2], [0.1, 0.1], [0.2, 0.3])}, folder / "best so far.png")
    table = "| controller | best reward |\n|:---|---:|\n| a\\|b <x> | 0.7000 |\n"
    markdown = write_report(folder, "Comparison <tiny>", [
        ReportSection("Controllers", text="Three seeds each.\n\nSame supernet.", table_markdown=table,
                      images=[curve, Path("missing/pareto.png")]),
    ])
    page = html_beside(markdown)
    assert page == folder / "report.html" and markdown.exists()
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<h1>Comparison &lt;tiny&gt;</h1>" in text
    assert "<h2>Controllers</h2>" in text and "<p>Three seeds each.</p>" in text and "<p>Same supernet.</p>" in text
    png = base64.b64encode(curve.read_bytes()).decode("ascii")
    assert f'src="data:image/png;base64,{png}"' in text  # embedded: no link for the viewer to resolve
    assert 'src="missing/pareto.png"' in text  # not on disk: the relative link stays
    assert "<th>controller</th>" in text and '<th class="num">best reward</th>' in text
    assert "<td>a|b &lt;x&gt;</td>" in text and '<td class="num">0.7000</td>' in text


def test_captions_between_tables_are_paragraphs() -> None:
    table = "| a |\n|---:|\n| 1 |\n"
    html = markdown_table_html(f"trade-off tr = 0.1\n\n{table}\n\ntrade-off <2>\n\n{table}")
    assert html.count("<table>") == 2 and "<p>trade-off tr = 0.1</p>" in html and "<p>trade-off &lt;2&gt;</p>" in html
    assert html.index("tr = 0.1") < html.index("<table>") < html.index("trade-off &lt;2&gt;")
    assert markdown_table_html("") == ""
