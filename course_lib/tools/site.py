"""`make site`: the course as static HTML, to project in class or to share with students who have
installed nothing yet.

    python -m course_lib.tools.site build/site        # what `make site` runs; open build/site/index.html

Every committed notebook (executed, with its outputs) becomes one page, rendered by nbconvert's
JupyterLab template, plus an index, the instructor guide (docs/teaching.md) and the benchmark
table (BENCHMARKS.md). Building and viewing need no network: figures are embedded in the pages,
no script or style is loaded from a CDN (so no MathJax: the few formulas show as TeX source, and
widgets show the static view the notebook saved, not live controls). Links between notebooks and
to the guide point at the pages; a relative link to anything else in the repository becomes plain
text, since the site does not contain it.
"""
from __future__ import annotations

import argparse
import html
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..base.paths import NOTEBOOKS_DIR, REPO_DIR

PAGE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock html_head_js_requirejs %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block extra_css %}<style type="text/css">{{ resources.course_css }}</style>{% endblock extra_css %}
{%- block body_header -%}{{ super() }}{{ resources.course_nav }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.course_nav }}{{ super() }}{% endblock body_footer %}
"""
CSS = """
nav.course { font-family: sans-serif; font-size: 14px; padding: 8px 12px; margin: 0 0 12px 0;
             background: #f3f4f6; border-radius: 4px; display: flex; gap: 16px; flex-wrap: wrap; }
nav.course a { text-decoration: none; }
body.course-doc { max-width: 900px; margin: 24px auto; padding: 0 16px; font-family: sans-serif; line-height: 1.5; }
body.course-doc table { border-collapse: collapse; } body.course-doc td, body.course-doc th { border: 1px solid #ccc;
  padding: 2px 6px; }
body.course-doc .summary p { margin: 2px 0 10px 0; font-size: 14px; }
body.course-doc pre { background: #f6f8fa; padding: 8px; overflow-x: auto; }
"""
# Output types shown, best first: the widget view and JavaScript are left out (they need scripts from a CDN),
# so a widget shows the static view (HTML, image or text) saved beside it.
DISPLAY_PRIORITY = ["text/html", "text/markdown", "image/svg+xml", "text/latex", "image/png", "image/jpeg",
                    "text/plain"]
DOCS = {"teaching.html": REPO_DIR / "docs" / "teaching.md", "benchmarks.html": REPO_DIR / "BENCHMARKS.md"}
DOC_TITLES = {"teaching.html": "Instructor guide", "benchmarks.html": "Benchmarks"}
HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)("[^>]*>)(.*?)(</a>)', re.DOTALL)


@dataclass(frozen=True)
class Page:
    """One notebook of the course as a page of the site."""

    source: Path
    html_name: str
    title: str
    summary: str
    executed: bool


def notebook_page(path: Path) -> Page:
    """Title (the first heading), first paragraph of prose (markdown) and whether every code cell has run."""
    nb = nbformat.read(path, as_version=4)
    title, summary = path.stem, ""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for block in cell.source.split("\n\n"):
            block = block.strip().removeprefix("**Why it matters.**").strip()
            if block.startswith("# ") and title == path.stem:
                title = block.splitlines()[0][2:].strip()
            elif title != path.stem and block and not re.match(r"#|<|\||-|\*|\d+\. ", block) and not summary:
                summary = " ".join(block.split())
        if summary:
            break
    executed = all(c.execution_count is not None for c in nb.cells if c.cell_type == "code" and c.source.strip())
    return Page(path, path.stem + ".html", title, summary, executed)


def _target(href: str, pages: dict[str, str]) -> str | None:
    """Where a link goes in the site: unchanged if external or an anchor, the page if it is one, None if absent."""
    if not href or href.startswith(("#", "http://", "https://", "mailto:", "data:")):
        return href
    path, _, anchor = href.partition("#")
    page = pages.get(Path(path).name)
    if page is None:
        return None
    return page + (f"#{anchor}" if anchor else "")


def rewrite_links(text: str, pages: dict[str, str]) -> str:
    """Point links to notebooks and docs at their pages; unlink relative links to files the site lacks."""

    def fix(m: re.Match) -> str:
        target = _target(html.unescape(m.group(2)), pages)
        if target is None:
            return m.group(4)
        return f"{m.group(1)}{html.escape(target, quote=True)}{m.group(3)}{m.group(4)}{m.group(5)}"

    return HREF.sub(fix, text)


def _nav(pages: list[Page], current: int | None) -> str:
    links = ['<a href="index.html">Course index</a>']
    if current is not None and current > 0:
        links.append(f'<a href="{pages[current - 1].html_name}">&larr; {html.escape(pages[current - 1].title)}</a>')
    if current is not None and current + 1 < len(pages):
        links.append(f'<a href="{pages[current + 1].html_name}">{html.escape(pages[current + 1].title)} &rarr;</a>')
    links += [f'<a href="{name}">{title}</a>' for name, title in DOC_TITLES.items()]
    return f'<nav class="course">{" ".join(links)}</nav>'


def _doc_page(title: str, body: str, nav: str) -> str:
    head = f'<meta charset="utf-8"><title>{html.escape(title)}</title><style type="text/css">{CSS}</style>'
    page = f'<body class="course-doc">{nav}\n{body}\n{nav}</body>'
    return f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head>\n{page}</html>\n'


def build_site(out_dir: Path, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Write the site into `out_dir`; returns the pages written (index first)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.filters import markdown2html
    from traitlets.config import Config

    sources = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no course notebooks (NN_name.ipynb) in {notebooks_dir}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = [notebook_page(p) for p in sources]
    names = {p.source.name: p.html_name for p in pages} | {p.html_name: p.html_name for p in pages}
    names |= {source.name: name for name, source in DOCS.items()} | {name: name for name in DOCS}
    names |= {"index.html": "index.html", "README.md": "index.html"}
    config = Config({"NbConvertBase": {"display_data_priority": DISPLAY_PRIORITY}})
    exporter = HTMLExporter(config=config, template_name="lab", template_file="course.html.j2",
                            extra_loaders=[DictLoader({"course.html.j2": PAGE_TEMPLATE})])
    written = []
    for index, page in enumerate(pages):
        body, _ = exporter.from_notebook_node(
            nbformat.read(page.source, as_version=4),
            resources={"metadata": {"name": page.title}, "course_nav": _nav(pages, index), "course_css": CSS})
        (out_dir / page.html_name).write_text(rewrite_links(body, names))
        written.append(out_dir / page.html_name)
    for name, source in DOCS.items():
        body = markdown2html(source.read_text()) if source.exists() else f"<p>{source.name} is missing.</p>"
        (out_dir / name).write_text(rewrite_links(_doc_page(DOC_TITLES[name], body, _nav(pages, None)), names))
        written.append(out_dir / name)
    rows = "\n".join(
        f'<li><a href="{p.html_name}">{html.escape(p.title)}</a>'
        f'{"" if p.executed else " <em>(not executed yet: some outputs are missing)</em>"}'
        f'<div class="summary">{markdown2html(p.summary)}</div></li>' for p in pages)
    index_body = (
        "<h1>Multimodal AI, hands-on</h1>\n<p>The course's notebooks as static pages, with the outputs they printed "
        "when they were last executed. To run them, change them and do the exercises, install the course and run "
        "<code>make lab</code> (see the README).</p>\n"
        f"<ol start=\"0\">\n{rows}\n</ol>\n<p>For teachers: the <a href=\"teaching.html\">instructor guide</a>. "
        "Run times and accuracies: <a href=\"benchmarks.html\">benchmarks</a>.</p>")
    index = _doc_page("Multimodal AI, hands-on", index_body, _nav(pages, None))
    (out_dir / "index.html").write_text(rewrite_links(index, names))
    return [out_dir / "index.html", *written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.tools.site", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("build/site"),
                        help="where to write the site (default build/site)")
    args = parser.parse_args(argv)
    pages = build_site(args.out_dir)
    print(f"{len(pages)} pages in {args.out_dir}; open {args.out_dir / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
