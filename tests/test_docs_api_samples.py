"""Every code sample the API reference shows from a docstring runs.

docs/api.md is made of autodoc directives: the samples on that page are written in
Kettle's docstrings (a literal block after ``::`` or ``Example::``, a
``.. code-block::``, a ``>>>`` session). test_docs_samples.py runs the blocks
written in the pages themselves; this module runs these.

They are found where the reader sees them: the page is built with the docs'
own conf.py (autodoc and napoleon, as ``sphinx-build`` does, but the page alone:
a few seconds), and every ``literal_block`` and ``doctest_block`` of an object's
description in the doctree is a sample. A sample is named by the object it
documents and its rank in that description, ``kettle.Blueprint:1``, and must be
listed in one of:

- ``SETUPS`` (``@setup("kettle.Blueprint:1")``): the setup gives the block the
  names it uses (an ``app``...), runs it with ``sample.run(...)`` (the harness of
  test_docs_samples.py: ``sample.values`` holds the value of each expression
  statement, a ``>>>`` session runs as a doctest) and asserts what the docstring
  says it does;
- ``COMPILE_ONLY``, with the reason: the block is compiled and its imports run;
- ``NOT_PYTHON``, with the reason (a shell command, a template): it must not
  compile as Python, so that a Python sample cannot hide there.

A block that is in none fails ``test_every_api_sample_is_listed``, as does an entry
whose block is gone. A block quote in a description fails too: it is how an
indented sample written without ``::`` shows (as a quotation, not run).
Each block runs as the inline samples do: in an empty temporary directory, without
the environment's ``KETTLE_*`` settings, with connections to other hosts refused.
"""

import collections
import dataclasses
import inspect
import io
import os
import pkgutil
import sys
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.console import strip_escape_sequences
from sphinx.util.docutils import docutils_namespace
from sphinx.util.docutils import patch_docutils

import test_docs_samples as docs_samples
from kettle import Kettle

# No `from __future__ import annotations`: the samples' handlers and the setups'
# models are annotated with names Kettle and SQLAlchemy resolve at once.

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
API_PAGE = DOCS / "api.md"
BOTH = ("asgi", "wsgi")

Sample = docs_samples.Sample


# -- finding the samples ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ApiSample:
    """A code block in the description of a documented object."""

    key: str  # "kettle.Blueprint:1": the object, the block's rank in its description
    kind: str  # "python" or "session" (``>>>`` prompts)
    language: str | None  # as given (``.. code-block:: jinja``); None for ``::``
    code: str
    path: Path  # the file it is written in (the docstring's module)
    line: int  # of its first line in that file (0: not found)

    @property
    def where(self) -> str:
        return f"{docs_samples._name(self.path)}:{self.line}"

    def block(self) -> docs_samples.Block:
        """The block for test_docs_samples' harness (tracebacks name the source
        file's lines)."""
        return docs_samples.Block(
            self.path, max(self.line - 1, 0), self.kind, self.code, self.key
        )


def build_page(text: str, workdir: Path, name: str = "api") -> nodes.document:
    """The doctree of a page holding ``text``, read with docs/conf.py (its
    extensions and settings) as the only page: links to the other pages are not
    resolved, any other warning fails."""
    src = workdir / "src"
    src.mkdir(parents=True)
    (src / f"{name}.md").write_text(text, encoding="utf-8")
    warned = io.StringIO()
    overrides = {"root_doc": name, "suppress_warnings": ["myst.xref_missing"]}
    with warnings.catch_warnings():
        # As in test_docs_links.py: Python warnings are shown, not raised; the
        # deprecations Sphinx and its extensions raise among themselves are not
        # Kettle's business.
        warnings.simplefilter("default")
        warnings.filterwarnings(
            "ignore", module=r"(sphinx|myst_parser|docutils|furo|sphinx_basic_ng)\b"
        )
        with patch_docutils(str(DOCS)), docutils_namespace():
            app = Sphinx(
                str(src),
                str(DOCS),
                str(workdir / "out"),
                str(workdir / "doctrees"),
                "dummy",
                confoverrides=overrides,
                status=None,
                warning=warned,
                freshenv=True,
            )
            app.build()
    problems = strip_escape_sequences(warned.getvalue())
    assert app.statuscode == 0 and problems == "", problems
    return app.env.get_doctree(name)


def _owner(node: nodes.Node) -> str | None:
    """The documented object whose description holds ``node`` (the innermost:
    a member's, in a class), as the page names it; None outside descriptions."""
    parent = node.parent
    while parent is not None:
        if isinstance(parent, addnodes.desc_content):
            desc = parent.parent
            for child in desc.children:
                if isinstance(child, addnodes.desc_signature):
                    parts = [child.get("module"), child.get("fullname")]
                    return ".".join(p for p in parts if p)
        parent = parent.parent
    return None


def _object_line(dotted: str) -> int:
    """The line an object's source starts at (0 when unknown: data, a proxy)."""
    try:
        obj = pkgutil.resolve_name(dotted)
        if isinstance(obj, property) and obj.fget is not None:
            obj = obj.fget
        return inspect.getsourcelines(inspect.unwrap(obj))[1]
    except (ImportError, AttributeError, ValueError, TypeError, OSError):
        return 0


def locate(source: str, code: str, after: int = 0) -> tuple[Path, int]:
    """The file and line of a block's first line. Its node knows only the
    docstring (``"<file>:docstring of <module.name>"``): the block's lines are
    looked for in the file, from the object's own lines on (and past line
    ``after``: the object's previous block)."""
    file, _, dotted = source.partition(":docstring of ")
    path = Path(file)
    if not path.is_file() and (DOCS / path.name).is_file():
        path = DOCS / path.name  # the page, read from a copy
    if not path.is_file():
        return path, 0
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    wanted = [line.strip() for line in code.splitlines()]
    found = [
        i + 1
        for i in range(len(lines) - len(wanted) + 1)
        if lines[i : i + len(wanted)] == wanted
    ]
    start = max(_object_line(dotted.strip()) if dotted else 0, after + 1)
    return path, next((n for n in found if n >= start), found[0] if found else 0)


def find_samples(doctree: nodes.document) -> tuple[dict[str, ApiSample], list[str]]:
    """The code blocks of the page's object descriptions, by key, and what the
    descriptions hold that cannot be checked (block quotes). Blocks outside the
    descriptions are the page's own: test_docs_samples.py runs those."""
    samples: dict[str, ApiSample] = {}
    problems: list[str] = []
    ranks: collections.Counter[str] = collections.Counter()
    last: dict[str, int] = {}  # the line of each object's latest block
    kinds = (nodes.literal_block, nodes.doctest_block, nodes.block_quote)
    for node in doctree.findall(lambda n: isinstance(n, kinds)):
        owner = _owner(node)
        if owner is None:
            continue
        if isinstance(node, nodes.block_quote):
            path, line = locate(node.source or "", node.astext().splitlines()[0])
            problems.append(
                f"{owner} ({docs_samples._name(path)}:{line}): an indented block "
                "shows as a quotation: a code sample needs `::` before it (it is "
                "then run here), text no indent"
            )
            continue
        ranks[owner] += 1
        key = f"{owner}:{ranks[owner]}"
        code = node.astext() + "\n"
        session = isinstance(node, nodes.doctest_block) or code.lstrip().startswith(
            ">>>"
        )
        path, line = locate(node.source or "", code, last.get(owner, 0))
        last[owner] = line
        samples[key] = ApiSample(
            key,
            "session" if session else "python",
            node.get("language"),
            code,
            path,
            line,
        )
    return samples, problems


def listing_problems(samples: dict[str, ApiSample]) -> list[str]:
    """What is wrong with the tables, given the samples found."""
    problems: list[str] = []
    tables = {"SETUPS": SETUPS, "COMPILE_ONLY": COMPILE_ONLY, "NOT_PYTHON": NOT_PYTHON}
    for key, sample in samples.items():
        listed = [name for name, table in tables.items() if key in table]
        if not listed:
            problems.append(
                f"{key} ({sample.where}): a sample nobody runs: give it a setup "
                "(@setup), or list it in COMPILE_ONLY or NOT_PYTHON with the reason"
            )
        elif len(listed) > 1:
            problems.append(f"{key}: listed in {' and '.join(listed)}")
    for name, table in tables.items():
        problems += [
            f"{key}: in {name}, but the API page shows no such sample"
            for key in table
            if key not in samples
        ]
    return problems


# -- the tables -------------------------------------------------------------------

SETUPS: dict[str, Callable[[Sample], None]] = {}

#: Blocks that are compiled (and their imports run) but not run, and why.
COMPILE_ONLY: dict[str, str] = {}

#: Blocks that are not Python (a shell command, a template), and what they are.
NOT_PYTHON: dict[str, str] = {}


def setup(key: str) -> Callable[[Callable[[Sample], None]], Callable[[Sample], None]]:
    def register(func: Callable[[Sample], None]) -> Callable[[Sample], None]:
        assert key not in SETUPS, key
        SETUPS[key] = func
        return func

    return register


# -- running them -----------------------------------------------------------------


@pytest.fixture(scope="session")
def api_samples(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, ApiSample], list[str]]:
    """The samples of docs/api.md as built (once per session)."""
    text = API_PAGE.read_text(encoding="utf-8")
    return find_samples(build_page(text, tmp_path_factory.mktemp("api-samples")))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test_api_sample per listed sample (the setups are defined below)."""
    if metafunc.definition.name == "test_api_sample":
        metafunc.parametrize("key", sorted({*SETUPS, *COMPILE_ONLY, *NOT_PYTHON}))


def check(
    found: ApiSample,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """Run a listed sample as its table says."""
    key, block = found.key, found.block()
    if key in NOT_PYTHON:
        try:
            compile(found.code, str(found.path), "exec")
        except SyntaxError:
            return
        raise AssertionError(
            f"{key} ({found.where}) is in NOT_PYTHON but compiles as Python: "
            "give it a setup"
        )
    if key in COMPILE_ONLY:
        docs_samples._compile_only(block)
        return
    assert key in SETUPS, f"{key} ({found.where}): not listed"
    for name in [k for k in os.environ if k.startswith("KETTLE_")]:
        if not name.startswith("KETTLE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    docs_samples.refuse_the_network(monkeypatch)
    sample = Sample(block, tmp_path, monkeypatch, request)
    SETUPS[key](sample)
    assert sample.ran, f"the setup of {key} never ran the block"


def test_api_sample(
    key: str,
    api_samples: tuple[dict[str, ApiSample], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    found = api_samples[0].get(key)
    assert found is not None, f"{key}: listed, but the API page shows no such sample"
    check(found, tmp_path, monkeypatch, request)


def test_every_api_sample_is_listed(
    api_samples: tuple[dict[str, ApiSample], list[str]],
) -> None:
    samples, problems = api_samples
    assert problems + listing_problems(samples) == []
    assert len(samples) >= 8  # the page was built, its docstrings read
    assert all(s.line > 0 for s in samples.values())  # each found in its file


FAKE_MODULE = '''\
"""A module with documented objects."""


def documented():
    """A function.

    Example::

        documented()

    A session:

    >>> 1 + 1
    2

    .. code-block:: jinja

       {% cache 60 %}x{% endcache %}

    Args:
        nothing: In a napoleon section too::

            documented()
    """


class Thing:
    """A class::

        Thing().method()

    Then text with an indent, which is not a sample:

        Thing()
    """

    def method(self):
        """A member::

            Thing().method()

        More text.
        """

    def hidden(self):
        """Not on the page (not in :members:)::

            Thing().hidden()
        """
'''

FAKE_PAGE = """\
# Fake

```{eval-rst}
.. autofunction:: NAME.documented

.. autoclass:: NAME.Thing
   :members: method
```

```python
print("the page's own block: test_docs_samples.py runs it")
```
"""


def test_the_harness_finds_and_refuses_new_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    name = "kettle_docs_api_fake"
    (tmp_path / f"{name}.py").write_text(FAKE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        doctree = build_page(FAKE_PAGE.replace("NAME", name), tmp_path / "build")
    finally:
        sys.modules.pop(name, None)
    samples, problems = find_samples(doctree)
    fake = tmp_path / f"{name}.py"
    assert [
        (s.key, s.kind, s.language, s.code, s.path, s.line) for s in samples.values()
    ] == [
        (f"{name}.documented:1", "python", None, "documented()\n", fake, 9),
        (f"{name}.documented:2", "session", None, ">>> 1 + 1\n2\n", fake, 13),
        (
            f"{name}.documented:3",
            "python",
            "jinja",
            "{% cache 60 %}x{% endcache %}\n",
            fake,
            18,
        ),
        (f"{name}.documented:4", "python", None, "documented()\n", fake, 23),
        (f"{name}.Thing:1", "python", None, "Thing().method()\n", fake, 30),
        (f"{name}.Thing.method:1", "python", None, "Thing().method()\n", fake, 40),
    ]
    assert len(problems) == 1 and problems[0].startswith(f"{name}.Thing (")
    assert "a code sample needs `::`" in problems[0]
    listed = listing_problems(samples)
    ours = {*SETUPS, *COMPILE_ONLY, *NOT_PYTHON}
    assert len(listed) == len(samples) + len(ours)  # none listed; ours all gone
    assert listed[0].startswith(f"{name}.documented:1 (")
    assert "a sample nobody runs" in listed[0]

    # Listed, each runs as its table says.
    def run(sample: Sample) -> None:
        sample.run(documented=lambda: None)

    monkeypatch.setitem(SETUPS, f"{name}.documented:1", run)
    monkeypatch.setitem(SETUPS, f"{name}.documented:2", run)  # a doctest
    monkeypatch.setitem(NOT_PYTHON, f"{name}.documented:3", "a Jinja template")
    monkeypatch.setitem(SETUPS, f"{name}.documented:4", lambda sample: sample.run())
    monkeypatch.setitem(COMPILE_ONLY, f"{name}.Thing:1", "Thing is gone")
    for key in ("documented:1", "documented:2", "documented:3", "Thing:1"):
        check(samples[f"{name}.{key}"], tmp_path, monkeypatch, request)
    with pytest.raises(NameError) as failed:  # no `documented` given
        check(samples[f"{name}.documented:4"], tmp_path, monkeypatch, request)
    tb = failed.traceback
    assert [e.lineno + 1 for e in tb if Path(str(e.path)) == fake] == [23]
    with pytest.raises(AssertionError, match="not listed"):
        check(samples[f"{name}.Thing.method:1"], tmp_path, monkeypatch, request)
    monkeypatch.setitem(NOT_PYTHON, f"{name}.Thing.method:1", "wrong: Python")
    with pytest.raises(AssertionError, match="in NOT_PYTHON but compiles"):
        check(samples[f"{name}.Thing.method:1"], tmp_path, monkeypatch, request)
    monkeypatch.setitem(COMPILE_ONLY, f"{name}.Thing.method:1", "twice")
    assert listing_problems(samples) == [
        f"{name}.Thing.method:1: listed in COMPILE_ONLY and NOT_PYTHON",
        *listed[len(samples) :],  # the page's samples: not in this fake page
    ]


# -- the setups -------------------------------------------------------------------
# One per sample, named by its key; each asserts what its docstring says.


@setup("kettle.Blueprint:1")
def _blueprint(sample: Sample) -> None:
    from kettle import Blueprint
    from kettle import url_for

    app = Kettle(env_file=None)
    sample.run(app=app, Blueprint=Blueprint)
    for interface in BOTH:
        with app.test_client(interface=interface) as client:
            page = client.get("/blog/")
            assert (page.status_code, page.text) == (200, "posts")
    with app.app_context():
        assert url_for("blog.index") == "/blog/"


@setup("kettle.View:1")
def _view(sample: Sample) -> None:
    from kettle import View

    app = Kettle(env_file=None)
    ns = sample.run(app=app, View=View)
    assert ns["ItemView"].defined_methods() == ["GET", "DELETE"]
    for interface in BOTH:
        with app.test_client(interface=interface) as client:
            assert client.get("/items/3").json() == {"id": 3}
            assert client.get("/items/three").status_code == 404  # {item_id:int}
            assert client.delete("/items/3").status_code == 204  # None: no content
            refused = client.post("/items/3")  # a method it does not define
            assert refused.status_code == 405
            assert refused.headers["allow"] == "DELETE, GET, HEAD, OPTIONS"


@setup("kettle.redirect:1")
def _redirect(sample: Sample) -> None:
    from kettle import RedirectResponse
    from kettle import redirect

    app = Kettle(env_file=None)

    @app.get("/users/{user_id:int}")
    def show_user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    sample.run(app=app, redirect=redirect)
    (as_given,) = sample.values
    assert isinstance(as_given, RedirectResponse)
    assert (as_given.status_code, as_given.headers["location"]) == (
        302,
        "/login?next=/",
    )
    for interface in BOTH:
        with app.test_client(interface=interface, follow_redirects=False) as client:
            moved = client.post("/users")
            assert (moved.status_code, moved.headers["location"]) == (302, "/users/3")


@setup("kettle.WebSocket:1")
def _websocket(sample: Sample) -> None:
    from kettle import WebSocket

    app = Kettle(env_file=None)
    sample.run(app=app, WebSocket=WebSocket)
    with app.test_client() as client:
        with client.websocket_connect("/echo") as ws:
            for text in ("hello", "again"):
                ws.send_text(text)
                assert ws.receive_text() == text


@setup("kettle.routing.register_converter:1")
def _register_converter(sample: Sample) -> None:
    from kettle.routing import Converter
    from kettle.routing import converters
    from kettle.routing import register_converter

    # Registered for the whole process: the registry is put back after the test
    # (without "hex", which tests/test_routing.py registers too).
    registry = dict(converters._CONVERTERS)
    registry.pop("hex", None)
    sample.monkeypatch.setattr(converters, "_CONVERTERS", registry)
    with pytest.raises(ValueError, match="unknown path converter 'hex'"):
        converters.get_converter("hex")
    sample.run(Converter=Converter, register_converter=register_converter)
    app = Kettle(env_file=None)

    @app.get("/colors/{value:hex}")
    def color(value: int) -> dict[str, int]:
        return {"value": value}

    for interface in BOTH:
        with app.test_client(interface=interface) as client:
            assert client.get("/colors/ff").json() == {"value": 255}
            assert client.get("/colors/fg").status_code == 404
    assert app.url_for("color", value=255) == "/colors/ff"


@setup("kettle.signals.signal:1")
def _signal(sample: Sample) -> None:
    from kettle import signals

    sample.monkeypatch.setattr(signals, "default_namespace", signals.Namespace())
    shop, order = types.SimpleNamespace(), types.SimpleNamespace(id=1)
    ns = sample.run(signal=signals.signal, shop=shop, order=order)
    order_paid = ns["order_paid"]
    assert isinstance(order_paid, signals.NamedSignal)
    assert order_paid.name == "order-paid"
    assert signals.default_namespace["order-paid"] is order_paid  # made on first use
    assert sample.values == [[]]  # sent: nobody listens yet

    heard: list[tuple[Any, dict[str, Any]]] = []

    def on_paid(sender: Any, **kwargs: Any) -> str:
        heard.append((sender, kwargs))
        return "heard"

    order_paid.connect(on_paid)
    again = sample.run(signal=signals.signal, shop=shop, order=order)
    assert again["order_paid"] is order_paid  # the same name: the same signal
    assert heard == [(shop, {"order": order})]
    assert sample.values[-1] == [(on_paid, "heard")]


@setup("kettle.signals.receiver:1")
def _receiver(sample: Sample) -> None:
    from sqlalchemy import String
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from kettle.db import PK
    from kettle.db import Mapped
    from kettle.db import Model
    from kettle.db import mapped_column
    from kettle.signals import model_after_insert
    from kettle.signals import receiver

    # The sample's Post: a name and table of its own, taken out of the shared
    # metadata afterwards (as tests/test_forms.py does).
    class DocsApiSamplePost(Model):
        __tablename__ = "docs_api_sample_post"
        id: Mapped[PK]
        title: Mapped[str] = mapped_column(String(50))

    # What the signal's receivers gave back, for each send (the sample's returns
    # None: its body is `...`).
    sent: list[tuple[Any, dict[str, Any], list[tuple[Any, Any]]]] = []
    send = model_after_insert.send

    def spy(sender: Any, **kwargs: Any) -> list[tuple[Any, Any]]:
        result = send(sender, **kwargs)
        sent.append((sender, kwargs, result))
        return result

    sample.monkeypatch.setattr(model_after_insert, "send", spy)
    engine = create_engine("sqlite://")
    ns: dict[str, Any] = {}
    try:
        sample.run(
            ns,
            receiver=receiver,
            model_after_insert=model_after_insert,
            Post=DocsApiSamplePost,
        )
        on_new_post = ns["on_new_post"]
        assert on_new_post in model_after_insert.receivers_for(DocsApiSamplePost)
        assert on_new_post not in model_after_insert.receivers_for(object())
        DocsApiSamplePost.__table__.create(engine)
        with Session(engine) as db:
            post = DocsApiSamplePost(title="Hello")
            db.add(post)
            db.commit()
            ours = [s for s in sent if s[0] is DocsApiSamplePost]
            assert len(ours) == 1  # one insert, one signal
            _, kwargs, answers = ours[0]
            assert kwargs["instance"] is post and post.id == 1
            assert set(kwargs) == {"instance", "connection"}  # what **kwargs took
            assert (on_new_post, None) in answers
    finally:
        if "on_new_post" in ns:  # connected strongly: until disconnected
            model_after_insert.disconnect(ns["on_new_post"])
        engine.dispose()
        Model.metadata.remove(DocsApiSamplePost.__table__)


@setup("kettle.cache.cache_response:1")
def _cache_response(sample: Sample) -> None:
    from kettle.cache import cache_response
    from kettle.cache import get_cache

    app = Kettle(env_file=None)
    ns = sample.run(app=app, cache_response=cache_response)
    with app.test_client() as client:
        # As written the handler returns None: a 204, which is not kept (only
        # the statuses given, 200 by default, are).
        for _ in range(2):
            empty = client.get("/posts")
            assert (empty.status_code, empty.headers["x-cache"]) == (204, "MISS")

        # With a page to return (its body replaced), the route keeps it as the
        # decorator's arguments say.
        exec("def page():\n    served.append(1)\n    return {'n': len(served)}\n", ns)
        ns["served"] = []
        ns["posts"].__wrapped__.__code__ = ns["page"].__code__

        def get(language: str) -> tuple[int, str, Any]:
            page = client.get("/posts", headers={"Accept-Language": language})
            assert page.status_code == 200
            assert page.headers["cache-control"] == "max-age=60"  # ttl=60
            assert "accept-language" in page.headers["vary"].lower()
            return page.status_code, page.headers["x-cache"], page.json()

        assert get("fr") == (200, "MISS", {"n": 1})
        assert get("fr") == (200, "HIT", {"n": 1})
        assert get("de") == (200, "MISS", {"n": 2})  # vary=["Accept-Language"]
        get_cache(app).invalidate_tags("posts")  # tags=["posts"]
        assert get("fr") == (200, "MISS", {"n": 3})
