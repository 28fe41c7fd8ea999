from __future__ import annotations

from pathlib import Path

from nas.reports import ReportSection, write_report


def test_report_has_headings_tables_and_relative_image_links(tmp_path: Path) -> None:
    folder = tmp_path / "report"
    figures = folder / "figures"
    figures.mkdir(parents=True)
    curve = figures / "best so far.png"
    curve.write_bytes(b"png")
    outside = tmp_path / "elsewhere" / "pareto.png"
    table = "| controller | best reward |\n|:---|---:|\n| random | 0.7000 |\n"
    path = write_report(folder, "Search of tiny-digits", [
        ReportSection("Controllers", text="Three seeds each.", table_markdown=table, images=[curve, outside]),
        ReportSection("Winner", images=[Path("figures/bits.png")]),
        ReportSection("Empty"),
    ])
    assert path == folder / "report.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Search of tiny-digits\n")
    for heading in ("## Controllers", "## Winner", "## Empty"):
        assert f"\n{heading}\n" in text
    assert "Three seeds each." in text
    assert "| random | 0.7000 |" in text
    assert "![best so far](figures/best%20so%20far.png)" in text
    assert "![pareto](../elsewhere/pareto.png)" in text
    assert "![bits](figures/bits.png)" in text
    assert text.index("## Controllers") < text.index("| random |") < text.index("## Winner")
