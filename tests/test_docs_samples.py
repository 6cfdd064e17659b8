"""Every code sample written inline in the docs pages runs (docs/*.md and README.md).

Most samples are files in docs/examples/, shown with ``{literalinclude}`` and tested
by test_docs_examples.py. This module covers the rest: every Python block written in
a page, found the way Sphinx finds it (MyST's own Markdown parser):

- fenced blocks in Python (```` ```python ````, ```` ```py ````...), MyST's
  ```` ```{code-block} python ```` (and ``{code}``, ``{sourcecode}``,
  ``{code-cell}``), also inside admonitions and other directives;
- Python sessions: ```` ```pycon ```` blocks and any other block with ``>>>``
  prompts (a ``kettle shell`` transcript), run as doctests;
- a block without a language, an indented code block, or a code directive inside
  ``{eval-rst}`` is refused (Sphinx would highlight it as Python): give it a
  language (```` ```text ```` for plain text).

Each block runs in a fresh namespace, in an empty temporary directory, with the
``KETTLE_*`` settings of the environment removed and connections to anything but
this machine refused. A fragment that needs context (an ``app``, a session, the
request it handles) names a setup on the line before it::

    <!-- sample-setup: url-for -->
    ```python
    app.url_for("show_user", user_id=7)
    ```

The setup of that name (``@setup("url-for")`` below) gives the block its names,
runs it with ``sample.run(...)`` (``await sample.arun(...)`` for a block with a
top-level ``await``: the block runs as a coroutine), and asserts what the page says
it does. ``sample.values`` holds the value of each expression statement the block
ran, in order. A block without a marker runs as it is and must not fail. Blocks
that cannot run (see ``COMPILE_ONLY``, with the reason for each) are compiled and
their imports run. A block that shows what Kettle should do but does not yet is in
``KNOWN_BUGS``: it runs, and must fail (a strict xfail).

A setup marked ``isolated=True`` defines models in Kettle's shared metadata (the
sample's own classes, such as a ``User`` subclass that adds a column): its test
runs in a new pytest process, so that nothing it defines leaks into other tests.
"""

import ast
import asyncio
import builtins
import dataclasses
import datetime
import doctest
import inspect
import ipaddress
import os
import re
import runpy
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from typing import Any

import pytest
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser
from sphinx.util.matching import Matcher

import test_docs_examples as docs_examples
from kettle import Kettle
from kettle.exceptions import ImproperlyConfigured
from kettle.testing import TestClient

# No `from __future__ import annotations` here: setups annotate handlers with
# classes local to them, which Kettle could not resolve from strings.

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
THIS = Path(__file__).resolve()
#: Set in the pytest process an isolated sample runs in (its id).
CHILD = "KETTLE_DOCS_SAMPLE_CHILD"
SECRET = "docs-sample-key-0123456789abcdef-0123456789"


def pages() -> list[Path]:
    """The pages whose samples must run: every Markdown file Sphinx reads (the
    patterns of docs/conf.py left out) and README.md. Read when the tests are
    collected, so a page added meanwhile is covered."""
    excluded = Matcher(runpy.run_path(str(DOCS / "conf.py"))["exclude_patterns"])
    found = [
        p for p in DOCS.rglob("*.md") if not excluded(p.relative_to(DOCS).as_posix())
    ]
    return [*sorted(found), ROOT / "README.md"]


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name


# -- finding the samples ----------------------------------------------------------

PYTHON = {"python", "python3", "py", "py3"}
SESSION = {"pycon", "pycon3", "python-console"}
#: Languages whose blocks are Python but that this harness cannot run.
UNSUPPORTED = {"ipython", "ipython3", "ipython-console", "ipythonconsole"}
CODE_DIRECTIVES = {"code-block", "code", "sourcecode", "code-cell"}
#: Directives whose body is not Markdown (other directives' bodies are searched).
OPAQUE_DIRECTIVES = {
    "literalinclude",
    "include",
    "toctree",
    "eval-rst",
    "raw",
    "math",
    "csv-table",
    "image",
    "mermaid",
    "graphviz",
}
MARKER = re.compile(r"^<!--\s*sample-setup:\s*([\w.-]+)\s*-->\s*$")
RST_CODE = re.compile(
    r"^\s*(\.\.\s+(code-block|code|sourcecode|doctest|testcode|ipython)::|>>>)"
)
RST_LITERAL = re.compile(r"(?<!:)::\s*$")

_md = create_md_parser(
    MdParserConfig(enable_extensions={"colon_fence", "deflist"}, heading_anchors=3),
    RendererHTML,
)


@dataclasses.dataclass(frozen=True)
class Block:
    """One sample: a Python block (``kind="python"``) or a session with ``>>>``
    prompts (``kind="session"``)."""

    page: Path
    line: int  # before the code: the opening fence (or a directive's last option)
    kind: str
    code: str
    setup: str | None

    @property
    def id(self) -> str:
        return f"{_name(self.page)}:{self.line}"

    @property
    def first_code_line(self) -> int:
        return self.line + 1


def _directive(info: str) -> tuple[str, str] | None:
    """``("code-block", "python")`` for the info string ``{code-block} python``."""
    match = re.match(r"^\{([\w:.-]+)\}\s*(.*)$", info.strip())
    return (match.group(1), match.group(2).strip()) if match else None


def _body(content: str) -> tuple[str, int]:
    """A directive's content without its options (``:key: value`` lines or a
    ``---`` YAML block), and how many lines those took."""
    lines = content.splitlines(keepends=True)
    skip = 0
    if lines and lines[0].strip() == "---":
        skip = next(
            (i + 1 for i in range(1, len(lines)) if lines[i].strip() == "---"),
            len(lines),
        )
    else:
        while skip < len(lines) and re.match(r"^:[\w-]+:", lines[skip]):
            skip += 1
    return "".join(lines[skip:]), skip


def find_blocks(
    page: Path, text: str | None = None, offset: int = 0
) -> tuple[list[Block], list[str]]:
    """The samples of a page, and what it holds that cannot be checked."""
    if text is None:
        text = page.read_text(encoding="utf-8")
    blocks: list[Block] = []
    problems: list[str] = []
    pending: tuple[str, int] | None = None  # a marker waiting for its block
    name = _name(page)

    def where(tok: Token) -> str:
        return f"{name}:{offset + (tok.map[0] if tok.map else 0) + 1}"

    for tok in _md.parse(text):
        marker = MARKER.match(tok.content.strip()) if tok.type == "html_block" else None
        if marker:
            if pending:
                problems.append(f"{name}:{pending[1]}: marker without a sample")
            pending = (marker.group(1), offset + tok.map[0] + 1)
            continue
        marked, pending_line = pending if pending else (None, 0)
        pending = None
        if tok.type == "code_block":
            problems.append(
                f"{where(tok)}: an indented code block (Sphinx highlights it as "
                "Python): use a fenced block with a language"
            )
        if tok.type not in ("fence", "colon_fence") or tok.map is None:
            if marked:
                problems.append(f"{name}:{pending_line}: marker without a sample")
            continue
        line = offset + tok.map[0] + 1
        info = tok.info.strip()
        directive = _directive(info)
        lang, code, code_line = info.split()[0].lower() if info else "", tok.content, 0
        if directive:
            kind, argument = directive
            body, skipped = _body(tok.content)
            if kind in CODE_DIRECTIVES:
                lang, code, code_line = (
                    (argument.split() or [""])[0].lower(),
                    body,
                    skipped,
                )
            elif kind == "eval-rst":
                for i, rst in enumerate(body.splitlines()):
                    if RST_CODE.match(rst) or (
                        RST_LITERAL.search(rst) and not rst.lstrip().startswith("..")
                    ):
                        problems.append(
                            f"{name}:{line + 1 + skipped + i}: code in "
                            "{eval-rst}: write it as a fenced block"
                        )
                lang = "rst"  # not a sample itself
            else:
                if kind not in OPAQUE_DIRECTIVES:  # an admonition...: Markdown inside
                    inner, inner_problems = find_blocks(page, body, line + skipped)
                    blocks += inner
                    problems += inner_problems
                if marked:
                    problems.append(f"{name}:{pending_line}: marker before {{{kind}}}")
                continue
        if not lang:
            problems.append(
                f"{name}:{line}: a code block without a language (Sphinx "
                "highlights it as Python): name one (```text for plain text)"
            )
        elif lang in UNSUPPORTED:
            problems.append(f"{name}:{line}: {lang} blocks cannot be run here")
        elif lang in PYTHON:
            blocks.append(Block(page, line + code_line, "python", code, marked))
            continue
        elif lang in SESSION or any(
            row.lstrip().startswith(">>>") for row in code.splitlines()
        ):
            blocks.append(Block(page, line + code_line, "session", code, marked))
            continue
        if marked:
            problems.append(f"{name}:{pending_line}: marker before a {lang} block")
    if pending:
        problems.append(f"{name}:{pending[1]}: marker without a sample")
    return blocks, problems


def all_blocks() -> tuple[list[Block], list[str]]:
    blocks: list[Block] = []
    problems: list[str] = []
    for page in pages():
        found, trouble = find_blocks(page)
        blocks += found
        problems += trouble
    return blocks, problems


BLOCKS, PROBLEMS = all_blocks()


# -- running one ------------------------------------------------------------------


class _RecordValues(ast.NodeTransformer):
    """Route the value of each expression statement run by the block itself (not
    by a function or class it defines) through ``__sample_value__``."""

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        if isinstance(node.value, ast.Constant):  # `...`, a string
            return node
        call = ast.Call(ast.Name("__sample_value__", ast.Load()), [node.value], [])
        return ast.copy_location(ast.Expr(ast.copy_location(call, node.value)), node)

    def _keep(self, node: ast.AST) -> ast.AST:
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _keep
    visit_Lambda = _keep


class Sample:
    """What a setup gets: the block, the test's fixtures, and ways to run it."""

    def __init__(
        self,
        block: Block,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest,
    ) -> None:
        self.block = block
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.request = request
        #: The value of each expression statement the block ran, in order.
        self.values: list[Any] = []
        self.ran = False
        self.filename = str(block.page)

    @property
    def code(self) -> str:
        return self.block.code

    def tree(self) -> ast.Module:
        """The block's syntax tree, with the page's line numbers."""
        tree = compile(
            self.code,
            self.filename,
            "exec",
            flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        )
        return ast.increment_lineno(tree, self.block.first_code_line - 1)

    @property
    def is_async(self) -> bool:
        return self.block.kind == "python" and bool(
            self._compile().co_flags & inspect.CO_COROUTINE
        )

    def _compile(self) -> types.CodeType:
        tree = ast.fix_missing_locations(_RecordValues().visit(self.tree()))
        return compile(
            tree, self.filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )

    def namespace(self, into: dict[str, Any] | None, names: dict[str, Any]) -> dict:
        ns = into if into is not None else {"__name__": "docs_sample"}
        ns.setdefault("__builtins__", builtins)
        ns.update(names)
        ns["__sample_value__"] = self._record
        return ns

    def _record(self, value: Any) -> Any:
        self.values.append(value)
        return value

    def run(self, into: dict[str, Any] | None = None, /, **names: Any) -> dict:
        """Run the block with ``names`` defined (in ``into``, a module's dict, if
        given); return its namespace."""
        ns = self.namespace(into, names)
        self.ran = True
        if self.block.kind == "session":
            self._run_session(ns)
            return ns
        code = self._compile()
        if code.co_flags & inspect.CO_COROUTINE:
            raise TypeError(f"{self.block.id} awaits: use `await sample.arun()`")
        exec(code, ns)
        return ns

    async def arun(self, into: dict[str, Any] | None = None, /, **names: Any) -> dict:
        """:meth:`run`, on the running event loop (a block with top-level
        ``await``, ``async with`` or ``async for`` runs as a coroutine)."""
        ns = self.namespace(into, names)
        self.ran = True
        code = self._compile()
        result = eval(code, ns)
        if inspect.iscoroutine(result):
            await result
        return ns

    def _run_session(self, ns: dict[str, Any]) -> None:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(
            self.code, ns, self.block.id, self.filename, self.block.first_code_line - 1
        )
        assert test.examples, f"{self.block.id}: no >>> examples"
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        assert runner.failures == 0, "".join(report)

    def parts(self) -> dict[str, str]:
        """The block split into files at ``# name.py`` comment lines."""
        found: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in self.code.splitlines(keepends=True):
            name = re.match(r"^# ([\w./-]+\.py)\s*$", line)
            if name:
                current = found.setdefault(name.group(1), [])
            elif current is not None:
                current.append(line)
        return {name: "".join(lines) for name, lines in found.items()}


@dataclasses.dataclass(frozen=True)
class Setup:
    run: Callable[[Sample], None]
    #: Run the test in a new pytest process (the block defines models).
    isolated: bool = False
    #: Session fixtures the isolated process should share (``postgres_server``).
    services: tuple[str, ...] = ()


SETUPS: dict[str, Setup] = {}

#: Blocks that are compiled (and their imports run) but not run, and why.
COMPILE_ONLY: dict[str, str] = {
    "channels-overview": (
        "sync and async calls side by side: publish() refuses to run on an event "
        "loop, and the `async for` waits for messages forever. The same calls run "
        "in channels-socket-listens and channels-app-context below, and in "
        "docs/examples/channels_*.py"
    ),
}


#: Blocks that show what Kettle should do but does not yet: each runs, and must
#: fail with this exception (xfail, strict: the test fails once the bug is fixed).
KNOWN_BUGS: dict[str, tuple[type[Exception], str]] = {}


def setup(
    name: str, *, isolated: bool = False, services: tuple[str, ...] = ()
) -> Callable[[Callable[[Sample], None]], Callable[[Sample], None]]:
    def register(func: Callable[[Sample], None]) -> Callable[[Sample], None]:
        assert name not in SETUPS and name not in COMPILE_ONLY, name
        SETUPS[name] = Setup(func, isolated, services)
        return func

    return register


def run_as_is(sample: Sample) -> None:
    """A block without a marker: it must run by itself."""
    if sample.is_async:
        asyncio.run(asyncio.wait_for(sample.arun(), 60))
    else:
        sample.run()


def run_tests(ns: dict[str, Any]) -> list[str]:
    """Call the ``test_*`` functions a block defined (``parametrize`` marks
    applied, as pytest would); return what was called."""
    called: list[str] = []
    for name, func in list(ns.items()):
        if not (name.startswith("test_") and callable(func)):
            continue
        cases: list[dict[str, Any]] = [{}]
        for mark in getattr(func, "pytestmark", []):
            assert mark.name == "parametrize", f"{name}: mark {mark.name}"
            names, values = mark.args
            names = (
                [n.strip() for n in names.split(",")]
                if isinstance(names, str)
                else names
            )
            rows = [v if len(names) > 1 else (v,) for v in values]
            cases = [
                {**c, **dict(zip(names, row, strict=True))}
                for c in cases
                for row in rows
            ]
        for case in cases:
            func(**case)
            called.append(f"{name}({', '.join(map(repr, case.values()))})")
    assert called, "the block defines no test"
    return called


_LOCAL_NAMES = {None, "", "localhost", "testserver", "testclient"}


def _is_local(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def refuse_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Samples may reach this machine's servers (the test databases), nothing
    else: name lookups and connections to other hosts raise."""
    lookup = socket.getaddrinfo
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(host):
            raise OSError(f"docs samples must not use the network (lookup of {host!r})")
        return lookup(host, *args, **kwargs)

    def check(address: Any) -> None:
        if isinstance(address, tuple) and not _is_local(address[0]):
            raise OSError(f"docs samples must not use the network ({address!r})")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


def _compile_only(block: Block) -> None:
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    compile(block.code, str(block.page), "exec", flags=flags)  # to bytecode
    sample_tree = compile(
        block.code,
        str(block.page),
        "exec",
        flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
    )
    imports = [
        n for n in sample_tree.body if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    module = ast.increment_lineno(ast.Module(imports, []), block.line)
    exec(compile(module, str(block.page), "exec"), {})


def _run_isolated(block: Block, setup_: Setup, request: pytest.FixtureRequest) -> None:
    env = {**os.environ, CHILD: block.id}
    assert set(setup_.services) <= {"postgres_server"}, setup_.services
    if "postgres_server" in setup_.services:
        env["KETTLE_TEST_POSTGRES_URL"] = request.getfixturevalue(
            "postgres_server"
        ).url_sync
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{THIS}::test_sample[{block.id}]",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout[-8000:] + result.stderr[-4000:]
    assert result.returncode == 0, output
    assert "1 passed" in result.stdout, output


def _params() -> list[Any]:
    params = []
    for block in BLOCKS:
        marks = []
        if block.setup in KNOWN_BUGS:
            raises, reason = KNOWN_BUGS[block.setup]
            marks.append(pytest.mark.xfail(raises=raises, reason=reason, strict=True))
        params.append(pytest.param(block, id=block.id, marks=marks))
    return params


@pytest.mark.parametrize("block", _params())
def test_sample(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if block.setup in COMPILE_ONLY:
        _compile_only(block)
        return
    assert block.setup is None or block.setup in SETUPS, (
        f"unknown setup {block.setup!r}"
    )
    chosen = SETUPS[block.setup] if block.setup else Setup(run_as_is)
    if chosen.isolated and os.environ.get(CHILD) != block.id:
        _run_isolated(block, chosen, request)
        return
    for key in [k for k in os.environ if k.startswith("KETTLE_")]:
        if not key.startswith("KETTLE_TEST_") and key != CHILD:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    refuse_the_network(monkeypatch)
    sample = Sample(block, tmp_path, monkeypatch, request)
    chosen.run(sample)
    assert sample.ran, f"setup {block.setup!r} never ran the block"


# -- the harness itself -----------------------------------------------------------


def test_every_page_holds_only_samples_that_run() -> None:
    assert PROBLEMS == []
    assert len(BLOCKS) >= 30  # the parser found the pages' blocks


def test_markers_name_setups_and_every_setup_is_used() -> None:
    used = {b.setup for b in BLOCKS}
    unknown = sorted(
        b.id for b in BLOCKS if b.setup and b.setup not in {*SETUPS, *COMPILE_ONLY}
    )
    assert unknown == []
    assert sorted({*SETUPS, *COMPILE_ONLY} - used) == []
    assert set(KNOWN_BUGS) <= set(SETUPS)


def test_the_harness_finds_every_kind_of_sample(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    lines = [
        "# A page",  # 1
        "",
        "```python",  # 3
        "x = 1",
        "```",
        "<!-- sample-setup: url-for -->",  # 6
        "```py",  # 7
        "y = 2",
        "```",
        "````{note}",  # 10
        "Inside:",
        "```{code-block} python",  # 12
        ":caption: c",
        "z = 3",  # 14
        "```",
        "````",
        ":::{tip}",  # 17
        "```pycon",  # 18
        ">>> 1 + 1",
        "2",
        "```",
        ":::",
        "```console",  # 23
        "$ kettle shell",
        ">>> app",
        "```",
        "```text",
        "plain",
        "```",
        "```{literalinclude} examples/hello.py",
        "```",
    ]
    page.write_text("\n".join(lines) + "\n")
    blocks, problems = find_blocks(page)
    assert problems == []
    assert [(b.first_code_line, b.kind, b.code, b.setup) for b in blocks] == [
        (4, "python", "x = 1\n", None),
        (8, "python", "y = 2\n", "url-for"),
        (14, "python", "z = 3\n", None),
        (19, "session", ">>> 1 + 1\n2\n", None),
        (24, "session", "$ kettle shell\n>>> app\n", None),
    ]
    lines = [
        "```",  # 1: no language
        "bare",
        "```",
        "",
        "    indented",  # 5
        "",
        "```{eval-rst}",
        ".. code-block:: python",  # 8
        "",
        "   x = 1",
        "```",
        "",
        "```ipython",  # 13
        "In [1]: 1",
        "```",
        "",
        "<!-- sample-setup: x -->",  # 17
        "",
        "```text",
        "not python",
        "```",
        "<!-- sample-setup: y -->",  # 22: nothing after it
    ]
    page.write_text("\n".join(lines) + "\n")
    blocks, problems = find_blocks(page)
    assert blocks == []
    assert [int(p.split(":")[1]) for p in problems] == [1, 5, 8, 13, 17, 22]


def test_a_sample_that_fails_fails_its_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n```python\nimport json\n\njson.loads('{')\n```\n")
    (block,), _ = find_blocks(page)
    sample = Sample(block, tmp_path, monkeypatch, request)
    with pytest.raises(ValueError) as failed:
        run_as_is(sample)
    on_page = [e.lineno + 1 for e in failed.traceback if Path(str(e.path)) == page]
    assert on_page == [6]  # the traceback names the page's line
    page.write_text("```python\napp.url_for('index')\n```\n")  # needs a setup
    (block,), _ = find_blocks(page)
    with pytest.raises(NameError, match="'app'"):
        run_as_is(Sample(block, tmp_path, monkeypatch, request))
    page.write_text("```pycon\n>>> 1 + 1\n3\n```\n")
    (block,), _ = find_blocks(page)
    with pytest.raises(AssertionError, match="Expected:"):
        Sample(block, tmp_path, monkeypatch, request).run()
    with pytest.raises(OSError, match="network"):
        refuse_the_network(monkeypatch)
        socket.create_connection(("example.com", 80), timeout=1)


# == the setups, page by page =====================================================

# -- README.md and quickstart.md --------------------------------------------------


def _check_hello(app: Kettle) -> None:
    for iface in ("asgi", "wsgi"):
        with TestClient(app, interface=iface) as client:
            r = client.get("/")
            assert (r.text, r.headers["content-type"]) == (
                "Hello, World!",
                "text/html; charset=utf-8",
            )
            r = client.get("/users/42?verbose=yes", headers={"user-agent": "docs"})
            assert r.json() == {"id": 42, "verbose": True, "agent": "docs"}
            assert client.get("/users/abc").status_code == 404


@setup("readme-hello")
def _readme_hello(sample: Sample) -> None:
    _check_hello(sample.run()["app"])


@setup("quickstart-test")
def _quickstart_test(sample: Sample) -> None:
    sample.monkeypatch.syspath_prepend(str(EXAMPLES))  # hello.py, as in the page
    sample.monkeypatch.delitem(sys.modules, "hello", raising=False)
    try:
        ns = sample.run()
        assert run_tests(ns) == ["test_show_user()"]
    finally:
        sys.modules.pop("hello", None)


# -- routing.md and requests.md ---------------------------------------------------


@setup("url-for")
def _url_for(sample: Sample) -> None:
    from kettle import url_for

    app = docs_examples.load("routing_basics").app
    app.config["SERVER_NAME"] = "tea.example.com"  # the comment's case
    sample.run(app=app, url_for=url_for)
    assert sample.values == ["/users/7", "http://tea.example.com/users/7", "/"]


@setup("request-parameter")
def _request_parameter(sample: Sample) -> None:
    app = Kettle(env_file=None)
    sample.run(app=app)
    with TestClient(app) as client:
        for path in ("/a", "/b"):  # the connection, not a query parameter (422)
            assert client.get(path).status_code == 204


# -- auth.md ----------------------------------------------------------------------


def _auth_app(sample: Sample) -> Kettle:
    from kettle.auth import hashers
    from kettle.db import get_database

    sample.monkeypatch.setattr(hashers, "_hasher", hashers.set_test_parameters())
    app = Kettle(
        env_file=None,
        SECRET_KEY=SECRET,
        DATABASE_URL=f"sqlite:///{sample.tmp_path / 'auth.sqlite3'}",
    )
    get_database(app).create_all()
    sample.request.addfinalizer(get_database(app).dispose)
    return app


@setup("auth-user-model", isolated=True)
def _auth_user_model(sample: Sample) -> None:
    from sqlalchemy import Text
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.orm import Mapped
    from sqlalchemy.orm import mapped_column

    from kettle.auth import User
    from kettle.auth import hashers
    from kettle.auth import user_model
    from kettle.db import get_database

    sample.monkeypatch.setattr(hashers, "_hasher", hashers.set_test_parameters())
    sample.monkeypatch.setenv("KETTLE_SECRET_KEY", SECRET)
    db_url = f"sqlite:///{sample.tmp_path / 'members.sqlite3'}"
    sample.monkeypatch.setenv("KETTLE_DATABASE_URL", db_url)
    # The block is the module the setting names: myapp/models.py.
    models = types.ModuleType("myapp.models")
    sample.monkeypatch.setitem(sys.modules, "myapp", types.ModuleType("myapp"))
    sample.monkeypatch.setitem(sys.modules, "myapp.models", models)
    ns = sample.run(
        models.__dict__,
        User=User,
        Mapped=Mapped,
        mapped_column=mapped_column,
        Text=Text,
        Kettle=Kettle,
    )
    app, member = ns["app"], ns["Member"]
    assert member.__table__.name == "auth_user"  # single-table inheritance
    assert "bio" in sa_inspect(member).columns
    from kettle.auth import Auth

    Auth(app)

    @app.get("/me")
    def me(user: member) -> dict[str, str]:  # type: ignore[valid-type]
        return {"class": type(user).__name__, "bio": user.bio}

    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(member(username="ann", password="a long passphrase", bio="Tea."))
        s.commit()
    with app.test_client() as client:
        assert user_model(app) is member
        login = {"username": "ann", "password": "a long passphrase"}
        logged_in = client.post("/auth/login", data=login, follow_redirects=False)
        assert logged_in.status_code == 303
        assert client.get("/me").json() == {"class": "Member", "bio": "Tea."}
    db.dispose()


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@setup("auth-requires")
def _auth_requires(sample: Sample) -> None:
    from kettle import abort
    from kettle import requires
    from kettle.auth import User
    from kettle.auth import issue_token
    from kettle.db import get_database
    from kettle.forms import Form
    from kettle.forms import StringField

    class SettingsForm(Form):
        theme = StringField("Theme")

    app = _auth_app(sample)
    sample.run(
        app=app, User=User, abort=abort, requires=requires, SettingsForm=SettingsForm
    )
    with get_database(app).session() as db:
        staff = User(username="ann", is_staff=True)
        clerk = User(username="bob")
        tokens = {u.username: issue_token(db, u) for u in (staff, clerk)}
        db.commit()
    with app.test_client() as client:
        assert client.post("/settings", data={"theme": "dark"}).status_code == 401
        r = client.post(
            "/settings", data={"theme": "dark"}, headers=_bearer(tokens["bob"])
        )
        assert (r.status_code, r.json()) == (403, {"detail": "Staff only."})
        # refused before the body is read: a body too large to read changes nothing
        r = client.post(
            "/settings",
            content=b"theme=" + b"x" * 2_000_000,
            headers={
                **_bearer(tokens["bob"]),
                "content-type": "application/x-www-form-urlencoded",
            },
        )
        assert r.status_code == 403
        r = client.post(
            "/settings", data={"theme": "dark"}, headers=_bearer(tokens["ann"])
        )
        assert r.status_code == 204


@setup("auth-tokens")
def _auth_tokens(sample: Sample) -> None:
    from sqlalchemy import select

    from kettle.auth import Token
    from kettle.auth import User
    from kettle.auth import issue_token
    from kettle.db import get_database

    app = _auth_app(sample)

    @app.get("/me")
    def me(user: User) -> dict[str, str]:
        return {"username": user.username}

    with get_database(app).session() as db:
        user = User(username="ann")
        db.add(user)
        db.flush()
        first = sample.run(db=db, user=user, issue_token=issue_token)["token"]
        db.commit()  # "saved with the session's commit"
        rows = db.scalars(select(Token).order_by(Token.id)).all()
        assert [r.name for r in rows] == ["deploy script", ""]
        expires = rows[0].expires_at.replace(tzinfo=datetime.UTC)
        in_30_days = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)
        assert abs(expires - in_30_days) < datetime.timedelta(minutes=1)
        assert rows[1].expires_at is None
    assert first.startswith("kt_")
    with app.test_client() as client:
        assert client.get("/me", headers=_bearer(first)).json() == {"username": "ann"}
        refused = client.get("/me", headers=_bearer("kt_forged"))
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == (
            'Bearer realm="kettle", error="invalid_token"'
        )


# -- channels.md ------------------------------------------------------------------


@setup("channels-socket-listens")
def _channels_socket_listens(sample: Sample) -> None:
    from kettle import WebSocket
    from kettle.channels import get_backend
    from kettle.channels import publish
    from kettle.channels import subscribe

    app = Kettle(env_file=None)
    ended: list[bool] = []

    @app.websocket("/notifications")
    async def notifications(ws: WebSocket) -> None:
        await ws.accept()
        user = types.SimpleNamespace(id=7)
        await sample.arun(ws=ws, user=user, subscribe=subscribe)
        ended.append(True)

    with app.test_client() as client:
        ws = client.websocket_connect("/notifications")
        for _ in range(500):
            if get_backend(app).subscribers("user:7"):
                break
            time.sleep(0.01)
        with app.app_context():
            publish("user:7", {"unread": 3})
            publish("user:8", {"unread": 1})  # another user's: not sent
            publish("user:7", {"unread": 4})
        assert ws.receive_json() == {"unread": 3}
        assert ws.receive_json() == {"unread": 4}
        # Not closed: this handler would notice only when a send fails.
    assert ended == [True]  # the app shut down: the subscription ended, so did it


@setup("channels-app-context")
def _channels_app_context(sample: Sample) -> None:
    from kettle.channels import publish
    from kettle.channels import subscribe

    app = Kettle(env_file=None)
    order = types.SimpleNamespace(id=12)

    async def scenario() -> Any:
        async with subscribe("orders", app=app) as orders:
            # from a thread, as a script or a task would
            await asyncio.to_thread(sample.run, app=app, publish=publish, order=order)
            return await asyncio.wait_for(anext(orders), 5)

    message = asyncio.run(scenario())
    assert (message.channel, message.data) == (
        "orders",
        {"id": 12, "status": "shipped"},
    )


# -- database.md ------------------------------------------------------------------


def _library(sample: Sample) -> tuple[Kettle, types.ModuleType]:
    """The page's app (docs/examples/database_app.py) on a fresh SQLite file."""
    from kettle.db import get_database

    app = docs_examples.database_example(sample.tmp_path)
    sample.request.addfinalizer(get_database(app).dispose)
    return app, sys.modules["kettle_docs_example_database_app"]


@setup("database-dependency")
def _database_dependency(sample: Sample) -> None:
    from sqlalchemy.orm import Session

    from kettle import Depends
    from kettle.db import get_or_404

    app, library = _library(sample)
    sample.run(
        app=app,
        Session=Session,
        Shelf=library.Shelf,
        get_or_404=get_or_404,
        Annotated=Annotated,
        Depends=Depends,
    )
    with app.test_client() as client:
        assert client.post("/shelves?name=Poetry").json() == {"id": 1}
        assert client.get("/shelves/1").status_code == 204
        missing = client.get("/shelves/9")
        assert missing.status_code == 404


@setup("database-outside-request")
def _database_outside_request(sample: Sample) -> None:
    from sqlalchemy import select

    from kettle.db import get_database

    app, library = _library(sample)
    sessions: list[Any] = []

    async def scenario() -> None:
        ns = await sample.arun(app=app, get_database=get_database, Shelf=library.Shelf)
        sessions.append(ns["session"])
        await get_database(app).dispose_async()

    asyncio.run(scenario())
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(sessions[0], AsyncSession)  # the last `with` made it
    with get_database(app).session() as s:
        assert s.scalars(select(library.Shelf.name)).all() == ["Poetry"]


_account_model: list[type] = []


def _account() -> type:
    """The page's ``Account``: an id and a balance (defined once: models join the
    metadata shared by the whole test session)."""
    if not _account_model:
        from sqlalchemy.orm import Mapped

        from kettle.db import PK
        from kettle.db import Model

        class Account(Model):
            __tablename__ = "docs_sample_account"
            id: Mapped[PK]
            balance: Mapped[int]

        _account_model.append(Account)
    return _account_model[0]


@setup("database-transaction")
def _database_transaction(sample: Sample) -> None:
    from sqlalchemy.orm import Session

    from kettle.db import get_database

    account = _account()
    app = Kettle(env_file=None, DATABASE_URL=f"sqlite:///{sample.tmp_path / 'bank.db'}")
    db = get_database(app)
    sample.request.addfinalizer(db.dispose)
    db.create_all()
    with db.session() as s:
        s.add_all([account(id=1, balance=100), account(id=2, balance=0)])
        s.commit()
    sample.run(app=app, Session=Session, Account=account)

    def balances() -> list[int]:
        with db.session() as s:
            return [s.get(account, i).balance for i in (1, 2)]

    with app.test_client() as client:
        assert client.post("/transfer?src=1&dst=2&amount=30").status_code == 204
        assert balances() == [70, 30]
        # no account 9: the block raises after taking from 1, and nothing is kept
        assert client.post("/transfer?src=1&dst=9&amount=30").status_code == 500
        assert balances() == [70, 30]


@setup("database-columns")
def _database_columns(sample: Sample) -> None:
    from sqlalchemy import select

    from kettle.db import get_database

    app, library = _library(sample)
    with get_database(app).session() as db:
        shelf = library.Shelf(name="Poetry")
        db.add_all(
            [
                library.Book(title="Odes", shelf=shelf),
                library.Book(title="Dune", shelf=shelf),
            ]
        )
        db.commit()
        db.expunge_all()
        ns = sample.run(db=db, select=select, Book=library.Book)
        assert [tuple(row) for row in ns["rows"]] == [(1, "Odes"), (2, "Dune")]
        assert ns["rows"][1].title == "Dune"
        assert ns["rows"][0]._asdict() == {"id": 1, "title": "Odes"}
        assert sorted(ns["titles"]) == ["Dune", "Odes"]
        assert len(db.identity_map) == 0  # "no object is made or tracked"


@setup("database-raw-sql")
def _database_raw_sql(sample: Sample) -> None:
    from sqlalchemy import text

    from kettle.db import get_database

    app, library = _library(sample)
    with get_database(app).session() as db:
        shelf = library.Shelf(name="Poetry")
        db.add_all(
            [
                library.Book(title="Odes", shelf=shelf),
                library.Book(title="Dune", shelf=shelf),
            ]
        )
        db.commit()
        sample.run(db=db, text=text, user_input="Dune")
        sample.run(db=db, text=text, user_input="x' OR '1'='1")  # no injection
        found, injected = (result.all() for result in sample.values)
        assert found == [(2,)]
        assert injected == []


def _redirected(real: dict[str, str]) -> Callable[..., Kettle]:
    """``Kettle`` for a sample whose database URLs name hosts of its own: each
    URL in ``real`` is replaced by a database of the test servers."""

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return real.get(value, value) if isinstance(value, str) else value

    def make(**settings: Any) -> Kettle:
        return Kettle(env_file=None, **{k: swap(v) for k, v in settings.items()})

    return make


@setup("database-binds", isolated=True, services=("postgres_server",))
def _database_binds(sample: Sample) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy import func
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy import select
    from sqlalchemy.orm import Mapped

    import dbfixtures
    from kettle.db import PK
    from kettle.db import Model
    from kettle.db import get_database

    server = sample.request.getfixturevalue("postgres_server")
    with (
        dbfixtures._fresh_postgres_database(server) as main,
        dbfixtures._fresh_postgres_database(server) as events,
    ):
        urls = {
            "postgresql://db/main": server.url_for(main)[0],
            "postgresql://events-db/events": server.url_for(events)[0],
        }
        ns = sample.run(Kettle=_redirected(urls), Model=Model, Mapped=Mapped, PK=PK)
        app, event = ns["app"], ns["Event"]
        db = get_database(app)
        db.create_all()
        db.create_all("events")
        with db.session() as s:  # one session, each statement to its database
            s.add(event())
            s.commit()
            assert s.scalar(select(func.count()).select_from(event)) == 1
        assert db.engine("events").url.database == events
        db.dispose()
        for url, has_events in (
            (urls["postgresql://db/main"], False),
            (urls["postgresql://events-db/events"], True),
        ):
            engine = create_engine(url)
            assert ("event" in sa_inspect(engine).get_table_names()) is has_events
            engine.dispose()
        # "a model whose __bind_key__ the app does not configure is an error"
        other = Kettle(env_file=None, DATABASE_URL=urls["postgresql://db/main"])
        with (
            get_database(other).session() as s,
            pytest.raises(ImproperlyConfigured, match="DATABASE_BINDS does not name"),
        ):
            s.add(event())
            s.flush()
        get_database(other).dispose()


@setup("database-replica")
def _database_replica(sample: Sample) -> None:
    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    import dbfixtures
    from kettle import Depends
    from kettle.auth import User
    from kettle.db import ReadOnlySessionError
    from kettle.db import get_database
    from kettle.db import replica

    server = sample.request.getfixturevalue("postgres_server")
    with dbfixtures._fresh_postgres_database(server) as name:
        url = server.url_for(name)[0]  # the replica holds what the primary does
        real = {"postgresql://primary/app": url, "postgresql://replica/app": url}
        ns = sample.run(
            Kettle=_redirected(real),
            Depends=Depends,
            replica=replica,
            Annotated=Annotated,
            Session=Session,
        )
        app, read_db = ns["app"], ns["ReadDB"]

        @app.get("/probe")
        def probe(db: read_db) -> dict[str, Any]:  # type: ignore[valid-type]
            refused = []
            try:
                db.execute(delete(User))
            except ReadOnlySessionError:
                refused.append("delete")
            db.add(User(username="ann"))
            try:
                db.flush()
            except ReadOnlySessionError:
                refused.append("flush")
            db.expunge_all()
            on_replica = db.get_bind() is get_database(app).engine("replica")
            return {"replica": on_replica, "refused": refused}

        with app.test_client() as client:
            assert client.get("/books").status_code == 204
            assert client.post("/books").status_code == 204
            assert client.get("/probe").json() == {
                "replica": True,
                "refused": ["delete", "flush"],
            }
        get_database(app).dispose()


@setup("database-testing-plugin")
def _database_testing_plugin(sample: Sample) -> None:
    # The fragment leaves out its imports: these are the page's.
    imports = {
        "conftest.py": "import os\n\nimport pytest\n\nfrom database_app import create_app\n"
        "from kettle.db import get_database\n\n",
        "test_shelves.py": "from database_app import Shelf\n\n",
    }
    parts = sample.parts()
    assert sorted(parts) == sorted(imports)
    for name, code in parts.items():
        (sample.tmp_path / name).write_text(imports[name] + code)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=sample.tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(EXAMPLES),
            "TEST_DATABASE_URL": f"sqlite:///{sample.tmp_path / 'test.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    sample.ran = True


# -- deployment.md, ratelimit.md and limits.md -------------------------------------


def _where_from() -> Kettle:
    from kettle import request

    app = Kettle(env_file=None)

    @app.get("/")
    def where() -> dict[str, Any]:
        return {"client": request.client.host, "scheme": request.scheme}

    return app


FORWARDED = [
    ("host", "localhost"),
    ("x-forwarded-for", "203.0.113.9"),
    ("x-forwarded-proto", "https"),
]


@setup("deployment-proxy-headers")
def _deployment_proxy_headers(sample: Sample) -> None:
    app = _where_from()
    sample.run(app=app)
    assert docs_examples.asgi_get(app, "/", FORWARDED, peer="127.0.0.1") == (
        200,
        {"client": "203.0.113.9", "scheme": "https"},
    )
    # not through the proxy: the request keeps its own address
    assert docs_examples.asgi_get(app, "/", FORWARDED, peer="198.51.100.7") == (
        200,
        {"client": "198.51.100.7", "scheme": "http"},
    )


@setup("ratelimit-proxy-headers")
def _ratelimit_proxy_headers(sample: Sample) -> None:
    app = docs_examples.load("ratelimit_app").app  # /search: 30/minute per address
    sample.run(app=app)

    def search(client_ip: str) -> int:
        headers = [("host", "localhost"), ("x-forwarded-for", client_ip)]
        return docs_examples.asgi_get(app, "/search", headers, peer="10.0.0.5")[0]

    assert [search("203.0.113.1") for _ in range(30)] == [200] * 30
    assert search("203.0.113.1") == 429
    assert search("203.0.113.2") == 200  # another client behind the same proxy


@setup("ratelimit-key-function")
def _ratelimit_key_function(sample: Sample) -> None:
    from kettle.ratelimit import rate_limit

    app = Kettle(env_file=None)
    sample.run(app=app, rate_limit=rate_limit)
    with app.test_client(interface="wsgi") as client:
        key_a = {"x-api-key": "a"}
        codes = {
            client.get("/api/items", headers=key_a).status_code for _ in range(1000)
        }
        assert codes == {204}  # 1000 an hour
        refused = client.get("/api/items", headers=key_a)
        assert refused.status_code == 429
        assert client.get("/api/items", headers={"x-api-key": "b"}).status_code == 204
        assert client.get("/api/items").status_code == 204  # no key: not limited


@setup("limits-stream")
def _limits_stream(sample: Sample) -> None:
    from kettle import Request
    from kettle import abort

    class Storage:
        def __init__(self) -> None:
            self.objects: dict[str, bytearray] = {}

        async def write(self, key: str, chunk: bytes) -> None:
            self.objects.setdefault(key, bytearray()).extend(chunk)

    storage = Storage()
    app = Kettle(env_file=None)
    sample.run(app=app, Request=Request, abort=abort, storage=storage)
    body = os.urandom(3 * 1024 * 1024)  # three times MAX_BODY_SIZE
    for iface in ("asgi", "wsgi"):
        with app.test_client(interface=iface) as client:
            r = client.put(f"/objects/{iface}", content=body)
            assert (r.status_code, r.json()) == (201, {"key": iface, "size": len(body)})
        assert storage.objects[iface] == body


# -- openapi.md, signals.md, tasks.md ----------------------------------------------


@setup("openapi-validate")
def _openapi_validate(sample: Sample) -> None:
    app = docs_examples.load("typed_handlers").app
    assert run_tests(sample.run(app=app)) == ["test_openapi_document_is_valid()"]


@setup("signals-own")
def _signals_own(sample: Sample) -> None:
    from kettle import signals

    app = Kettle(env_file=None)
    order = types.SimpleNamespace(id=1)

    async def scenario() -> dict[str, Any]:
        return await sample.arun(app=app, order=order)

    ns = asyncio.run(scenario())
    shop, order_placed = ns["shop"], ns["order_placed"]
    assert isinstance(order_placed, signals.NamedSignal)
    assert order_placed.name == "order-placed"
    assert shop.signal("order-placed") is order_placed
    assert signals.signal("order-placed") is not order_placed  # kept apart
    assert sample.values == [[], []]  # nobody listens yet: no (receiver, value) pairs


@setup("task-options")
def _task_options(sample: Sample) -> None:
    from kettle.tasks import Task

    app = Kettle(env_file=None)
    ns = sample.run(app=app)
    task = ns["send_report"]
    assert isinstance(task, Task)

    @app.task
    def plain() -> None: ...

    # the values shown are the defaults
    for option in ("retries", "backoff", "backoff_max", "retry_on", "queue", "timeout"):
        assert getattr(task, option) == getattr(plain, option), option
    assert (task.retries, task.backoff, task.backoff_max) == (0, 1.0, 3600)
    assert task.schedule is None
    assert task.name == f"docs_sample.{task.func.__qualname__}"


# -- testing.md and websockets.md ---------------------------------------------


@setup("testing-both-interfaces")
def _testing_both_interfaces(sample: Sample) -> None:
    create_app = docs_examples.load("testing_examples").create_app
    assert run_tests(sample.run(pytest=pytest, create_app=create_app)) == [
        "test_both_interfaces('asgi')",
        "test_both_interfaces('wsgi')",
    ]


@setup("testing-websocket-refused")
def _testing_websocket_refused(sample: Sample) -> None:
    from kettle.exceptions import WebSocketDisconnect

    chat = docs_examples.load("websocket_chat")  # /rooms/{room}: 4404 for coffee
    with chat.app.test_client() as client:
        ns = sample.run(
            pytest=pytest, WebSocketDisconnect=WebSocketDisconnect, client=client
        )
    assert ns["refused"].value.reason == "no such room"


@setup("websockets-test")
def _websockets_test(sample: Sample) -> None:
    app = docs_examples.load("websocket_chat").app
    assert run_tests(sample.run(app=app)) == ["test_room()"]


# -- typed-handlers.md ------------------------------------------------------------


@setup("typed-marker-spellings")
def _typed_marker_spellings(sample: Sample) -> None:
    from kettle import Query

    ns = sample.run(Annotated=Annotated, Query=Query)
    app = Kettle(env_file=None)
    spellings = [s for s in sample.tree().body if isinstance(s, ast.AnnAssign)]
    assert len(spellings) == 2
    for i, statement in enumerate(spellings):  # a handler with each spelling
        assert statement.value is not None
        made: dict[str, Any] = {}
        exec(
            "def handler(page: ANNOTATION = DEFAULT):\n    return {'page': page}\n",
            {
                "ANNOTATION": eval(ast.unparse(statement.annotation), ns),
                "DEFAULT": eval(ast.unparse(statement.value), ns),
            },
            made,
        )
        app.get(f"/spelling/{i}", name=f"spelling{i}")(made["handler"])
    with app.test_client() as client:
        for i in range(2):  # both mean the same
            assert client.get(f"/spelling/{i}").json() == {"page": 1}
            assert client.get(f"/spelling/{i}?page=3").json() == {"page": 3}
            refused = client.get(f"/spelling/{i}?page=0")
            assert refused.status_code == 422
            assert refused.json()["detail"][0]["loc"] == ["query", "page"]
            assert refused.json()["detail"][0]["type"] == "greater_than_equal"


@setup("typed-dependency-override")
def _typed_dependency_override(sample: Sample) -> None:
    from kettle import Depends

    class Database:
        name = "real"

    class FakeDatabase:
        name = "fake"

    def get_db() -> Database:
        return Database()

    app = Kettle(env_file=None)

    @app.get("/which")
    def which(db: Annotated[Any, Depends(get_db)]) -> dict[str, str]:
        return {"db": db.name}

    with app.test_client() as client:
        assert client.get("/which").json() == {"db": "real"}
        sample.run(app=app, get_db=get_db, FakeDatabase=FakeDatabase)
        assert client.get("/which").json() == {"db": "fake"}  # the next request
        app.dependency_overrides.clear()
        assert client.get("/which").json() == {"db": "real"}


# -- cli.md -----------------------------------------------------------------------


@setup("kettle-shell")
def _kettle_shell(sample: Sample) -> None:
    import kettle

    app = Kettle(env_file=None)  # the page's myproject.web, as far as it shows

    @app.get("/users/{user_id:int}")
    def show_user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    with app.app_context():  # what `kettle shell` gives: app and kettle, in context
        sample.run(app=app, kettle=kettle)
