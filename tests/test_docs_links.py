"""The docs build without a warning, every page is in the table of contents, and no
internal link of the built HTML is broken.

The HTML is built once per test session (``sphinx-build -W``: a warning fails the
build, among them a page left out of every toctree, a cross reference or a
``page.md#anchor`` link MyST cannot resolve). Then every relative ``href`` and
``src`` of every generated page is checked: its file exists in the build, and its
``#fragment`` is an ``id`` of the target page. External links (``http:``,
``https:``, ``mailto:``...) are not followed: no network.
"""

import html.parser
import io
import pickle
import urllib.parse
import warnings
from collections.abc import Iterator
from contextlib import redirect_stderr
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from sphinx.cmd.build import build_main

DOCS = Path(__file__).resolve().parent.parent / "docs"

#: Attributes that hold a URL the browser loads or follows.
URL_ATTRIBUTES = {"href", "src"}


class _Page(html.parser.HTMLParser):
    """The ids of a page and the URLs it refers to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.urls: list[tuple[int, str, str]] = []  # (line, tag, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)
            elif name in URL_ATTRIBUTES:
                self.urls.append((self.getpos()[0], tag, value))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def broken_links(root: Path) -> list[str]:
    """``"page.html:line: url: why"`` for each relative URL of the HTML pages under
    ``root`` whose target file is missing (or outside ``root``), or whose
    ``#fragment`` is no id of its target page."""
    root = root.resolve()
    pages = {path: _parse(path) for path in sorted(root.rglob("*.html"))}
    broken: list[str] = []
    for path, page in pages.items():
        for line, _tag, url in page.urls:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme or url.startswith("//"):
                continue  # external (or data:, javascript:...): not followed
            where = f"{path.relative_to(root)}:{line}: {url}"
            target = path
            if parts.path:
                target = (path.parent / urllib.parse.unquote(parts.path)).resolve()
                if not target.is_relative_to(root):
                    broken.append(f"{where}: outside the built docs")
                    continue
                if target.is_dir():
                    target = target / "index.html"
                if not target.is_file():
                    broken.append(f"{where}: no such file")
                    continue
            fragment = urllib.parse.unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if fragment not in ids:
                    broken.append(f"{where}: no id {fragment!r} in {target.name}")
    return broken


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The HTML docs, built once (warnings are errors, as in ``scripts/test``)."""
    out = tmp_path_factory.mktemp("docs")
    output = io.StringIO()
    args = ["-W", "--keep-going", "-q", "-b", "html", "-d", str(out / "doctrees")]
    with (
        warnings.catch_warnings(),
        redirect_stdout(output),
        redirect_stderr(output),
    ):
        # Python warnings are shown, not raised: the build's own warnings (which
        # -W makes errors) are what this checks. The deprecations Sphinx, MyST and
        # the theme raise among themselves are none of Kettle's business.
        warnings.simplefilter("default")
        warnings.filterwarnings(
            "ignore", module=r"(sphinx|myst_parser|docutils|furo|sphinx_basic_ng)\b"
        )
        status = build_main([*args, str(DOCS), str(out / "html")])
    assert status == 0, f"sphinx-build -W failed:\n{output.getvalue()}"
    yield out


def test_internal_links_are_not_broken(built_docs: Path) -> None:
    html_dir = built_docs / "html"
    assert (html_dir / "index.html").is_file()
    assert broken_links(html_dir) == []


def test_every_page_is_in_the_table_of_contents(built_docs: Path) -> None:
    """Every page is reachable from the root page through toctrees (or says it is
    an orphan). Sphinx's own check, which -W makes an error, only asks that a page
    be in some toctree."""
    with (built_docs / "doctrees" / "environment.pickle").open("rb") as f:
        env = pickle.load(f)
    reached = {env.config.root_doc}
    todo = [env.config.root_doc]
    while todo:
        for child in env.toctree_includes.get(todo.pop(), []):
            if child not in reached:
                reached.add(child)
                todo.append(child)
    orphans = {doc for doc in env.found_docs if "orphan" in env.metadata.get(doc, {})}
    assert sorted(env.found_docs - reached - orphans) == []
    assert {p.stem for p in DOCS.glob("*.md")} <= env.found_docs  # the pages are read


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "site.css").write_text("")
    (tmp_path / "index.html").write_text(
        '<html><head><link rel="stylesheet" href="_static/site.css?v=1"></head>\n'
        '<body><h1 id="top">Top</h1>\n'
        '<a href="#top">ok</a> <a href="#">ok</a> <a href="sub/page.html#part">ok</a>\n'
        '<a href="sub/">ok: the folder\'s index</a> <a name="old"></a>\n'
        '<a href="https://example.com/missing">external</a>\n'
        '<a href="mailto:a@example.com">mail</a>\n'
        '<a href="missing.html">gone</a>\n'  # line 7
        '<a href="#nowhere">no anchor</a>\n'  # line 8
        '<a href="sub/page.html#gone">no anchor there</a>\n'  # line 9
        '<img src="_static/logo.png">\n'  # line 10
        '<a href="../outside.html">outside</a>\n'  # line 11
        "</body></html>\n"
    )
    (tmp_path / "sub" / "page.html").write_text(
        '<p id="part"><a href="../index.html#old">ok</a> '
        '<a href="../index.html#top%20x">bad</a></p>\n'
    )
    (tmp_path / "sub" / "index.html").write_text("<p>sub</p>")
    assert broken_links(tmp_path) == [
        "index.html:7: missing.html: no such file",
        "index.html:8: #nowhere: no id 'nowhere' in index.html",
        "index.html:9: sub/page.html#gone: no id 'gone' in page.html",
        "index.html:10: _static/logo.png: no such file",
        "index.html:11: ../outside.html: outside the built docs",
        "sub/page.html:1: ../index.html#top%20x: no id 'top x' in index.html",
    ]
