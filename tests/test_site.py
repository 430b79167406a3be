"""`make site`: one page per committed notebook plus an index and the guide; every link and
resource resolves inside the site, and nothing is loaded from the network."""
import re
from html.parser import HTMLParser

import nbformat
import pytest

from course_lib.base.paths import NOTEBOOKS_DIR
from course_lib.tools import site

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


class Refs(HTMLParser):
    """Every (tag, attribute, value) that points somewhere."""

    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        self.refs += [(tag, name, value) for name, value in attrs if name in ("href", "src") and value is not None]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    assert site.main([str(out)]) == 0
    return out


def test_index_links_every_notebook_page_and_the_guides(built):
    index = (built / "index.html").read_text()
    for notebook in NOTEBOOKS:
        assert f'href="{notebook.stem}.html"' in index, notebook.name
        assert site.notebook_page(notebook).title in index
    assert 'href="teaching.html"' in index and 'href="benchmarks.html"' in index


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_each_page_shows_the_executed_notebook(built, notebook):
    page = (built / f"{notebook.stem}.html").read_text()
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert page.count('class="jp-Cell jp-CodeCell') == len(code)
    assert page.count("jp-OutputArea-output") >= sum(len(c.outputs) > 0 for c in code) > 0
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert page.count('src="data:image/png;base64,') >= images  # figures are embedded, not linked


def test_every_link_and_resource_resolves_without_the_network(built):
    pages = sorted(built.glob("*.html"))
    assert {p.name for p in pages} == {"index.html", "teaching.html", "benchmarks.html"} | {
        f"{n.stem}.html" for n in NOTEBOOKS}
    for page in pages:
        text = page.read_text()
        parser = Refs()
        parser.feed(text)
        assert parser.refs, page.name
        for tag, attr, value in parser.refs:
            if value.startswith(("http://", "https://")):
                assert tag == "a", f"{page.name} loads {value} from the network"  # only outbound links
                continue
            if value.startswith(("data:", "mailto:")):
                continue
            target, _, anchor = value.partition("#")
            resolved = built / target if target else page
            assert resolved.is_file(), f"{page.name}: {tag} {attr}={value!r} points at nothing"
            if anchor and target.endswith(".html"):
                assert f'id="{anchor}"' in resolved.read_text(), f"{page.name}: no anchor {value!r}"
        assert not re.search(r"url\(\s*['\"]?https?:", text), f"{page.name} loads a stylesheet resource remotely"


def test_links_to_notebooks_become_pages_and_absent_files_become_text():
    pages = {"02_clip.ipynb": "02_clip.html"}
    text = '<a href="../notebooks/02_clip.ipynb#sec">CLIP</a> <a href="../course_lib/x.py">x.py</a> <a href="#a">a</a>'
    assert site.rewrite_links(text, pages) == '<a href="02_clip.html#sec">CLIP</a> x.py <a href="#a">a</a>'
