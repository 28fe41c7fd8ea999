"""A report as one self-contained HTML file: what ``report.md`` says, with its figures embedded.

MLflow's artifact viewer shows a markdown file as plain text, and an HTML file in a sandboxed frame where
links relative to the file do not resolve; the figures are therefore embedded as ``data:`` URIs (a figure
that is not on disk keeps its relative link). Tables are the sections' markdown tables as HTML tables.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

from nas.reports.markdown_report import ReportSection, relative_link

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #1f2328; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.65em; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; display: block; margin: 0.8em 0; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; margin-top: 1.6em; }
"""
_SPLIT = re.compile(r"(?<!\\)\|")
_NUM = ' class="num"'


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip().replace("\\|", "|") for cell in _SPLIT.split(inner)]


def markdown_table_html(table_markdown: str) -> str:
    """A section's table text as HTML: each GitHub-markdown pipe table (header, alignment row, rows) in it as a
    ``<table>``, other blocks between blank lines (a caption such as ``trade-off tr = 0.1``) as paragraphs."""
    blocks = [block for block in re.split(r"\n\s*\n", table_markdown.strip()) if block.strip()]
    return "\n".join(_table(block) if _is_table(block) else _paragraphs(block) for block in blocks)


def _is_table(block: str) -> bool:
    lines = [line for line in block.strip().splitlines() if line.strip()]
    return len(lines) >= 2 and all(line.lstrip().startswith("|") for line in lines)


def _table(block: str) -> str:
    lines = [line for line in block.strip().splitlines() if line.strip()]
    header, alignment, body = _cells(lines[0]), _cells(lines[1]), [_cells(line) for line in lines[2:]]
    right = [cell.endswith(":") and not cell.startswith(":") for cell in alignment]
    right += [False] * (len(header) - len(right))

    def row(cells: Sequence[str], tag: str) -> str:
        parts = [f"<{tag}{_NUM if right[i] else ''}>{html.escape(cell)}</{tag}>"
                 for i, cell in enumerate(cells[: len(header)])]
        return "<tr>" + "".join(parts) + "</tr>"

    return ("<table>\n<thead>" + row(header, "th") + "</thead>\n<tbody>\n"
            + "\n".join(row(cells, "td") for cells in body) + "\n</tbody>\n</table>")


def _image(image: Path, folder: Path) -> str:
    name = html.escape(image.stem)
    path = image if image.is_absolute() else folder / image
    if path.is_file() and path.suffix.lower() in (".png", ".jpg", ".jpeg", ".gif", ".svg"):
        kind = {"jpg": "jpeg", "svg": "svg+xml"}.get(path.suffix.lower()[1:], path.suffix.lower()[1:])
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<figure><img alt="{name}" src="data:image/{kind};base64,{data}"></figure>'
    link = html.escape(relative_link(image, folder).replace(" ", "%20"), quote=True)
    return f'<figure><img alt="{name}" src="{link}"></figure>'


def _paragraphs(text: str) -> str:
    return "\n".join(f"<p>{html.escape(part.strip())}</p>" for part in re.split(r"\n\s*\n", text.strip())
                     if part.strip())


def render_html(folder: Path, title: str, sections: Sequence[ReportSection]) -> str:
    """The HTML text :func:`write_html_report` writes: the title, then per section its heading, prose, table
    and figures (embedded)."""
    folder = Path(folder)
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
             f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.heading)}</h2>")
        if section.text:
            parts.append(_paragraphs(section.text))
        if section.table_markdown:
            parts.append(markdown_table_html(section.table_markdown))
        parts += [_image(Path(image), folder) for image in section.images]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def write_html_report(folder: Path, title: str, sections: Sequence[ReportSection],
                      name: str = "report.html") -> Path:
    """Write ``folder/name`` (folder created, file replaced) and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_text(render_html(folder, title, sections), encoding="utf-8")
    return target
