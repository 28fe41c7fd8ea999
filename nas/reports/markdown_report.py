"""A search report as one markdown file (sections of text, tables and images linked by relative path) and the
same report as a self-contained ``report.html`` beside it (:mod:`nas.reports.html_report`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReportSection:
    """One ``## heading`` with optional prose, a ready-made markdown table and images (in that order)."""

    heading: str
    text: str = ""
    table_markdown: str = ""
    images: Sequence[Path] = ()


def relative_link(image: Path, folder: Path) -> str:
    """POSIX path of ``image`` relative to ``folder`` (relative images are taken as already relative to it)."""
    if not image.is_absolute():
        return image.as_posix()
    return Path(os.path.relpath(image.resolve(), folder.resolve())).as_posix()


def render_report(folder: Path, title: str, sections: Sequence[ReportSection]) -> str:
    """The markdown text :func:`write_report` writes."""
    parts = [f"# {title}\n"]
    for section in sections:
        parts.append(f"## {section.heading}\n")
        if section.text:
            parts.append(section.text.strip() + "\n")
        if section.table_markdown:
            parts.append(section.table_markdown.strip() + "\n")
        for image in section.images:
            link = relative_link(Path(image), folder)
            parts.append(f"![{Path(image).stem}]({link.replace(' ', '%20')})\n")
    return "\n".join(parts)


def write_report(folder: Path, title: str, sections: Sequence[ReportSection]) -> Path:
    """Write ``folder/report.md`` and ``folder/report.html`` (folder created, files replaced); return the
    markdown's path (the HTML is beside it, :func:`html_beside`)."""
    from nas.reports.html_report import write_html_report

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "report.md"
    target.write_text(render_report(folder, title, sections), encoding="utf-8")
    write_html_report(folder, title, sections, html_beside(target).name)
    return target


def html_beside(markdown: Path) -> Path:
    """The HTML report written beside the markdown report ``markdown``."""
    return Path(markdown).with_suffix(".html")
