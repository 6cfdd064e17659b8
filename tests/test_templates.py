"""Templates (``kettle.templating``): render() and render_block() from handlers,
the template= route option, folders of the app and its blueprints, autoescaping,
globals, context processors, compiling once, async rendering."""

from __future__ import annotations

import os

import pytest
from jinja2 import TemplateNotFound
from markupsafe import escape

from kettle import Blueprint
from kettle import Kettle
from kettle import request
from kettle.templating import get_templates
from kettle.templating import render
from kettle.templating import render_async
from kettle.templating import render_block
from kettle.templating import render_to_string

#: Payloads that must come out inert wherever user input lands in a template.
XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "</title><script>alert(1)</script>",
    "&lt;already escaped&gt;",
    "{{ 7 * 7 }}",
]

PAGE = """<!doctype html>
<title>{% block title %}{{ title }}{% endblock %}</title>
<ul id="items">{% block items %}{% for item in items %}<li>{{ item }}</li>{% endfor %}\
{% endblock %}</ul>
<a href="{{ url_for('blog.blog_index') }}" data-q="{{ q }}">{{ request.path }}</a>"""


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def site(tmp_path):
    """An app in tmp_path with a templates folder and a blueprint with its own."""
    templates = tmp_path / "templates"
    write(templates, "page.html", PAGE)
    write(templates, "shared.html", "app's")
    write(templates, "mail.txt", "Hello {{ name }}")
    write(templates, "feed.xml", "<feed>{{ title }}</feed>")
    blog = tmp_path / "blog"
    write(blog / "templates", "blog/index.html", "blog: {{ title }}")
    write(blog / "templates", "shared.html", "blueprint's")
    app = Kettle(env_file=None)
    app.root_path = str(tmp_path)
    bp = Blueprint("blog", url_prefix="/blog", root_path=blog)

    @bp.get("/")
    def blog_index():
        return render("blog/index.html", title="Posts")

    app.register_blueprint(bp)
    return app, templates


def test_render_from_def_and_async_def(site, make_client):
    app, _ = site

    @app.get("/page")
    def page(q: str = ""):
        return render("page.html", title="Tea", items=["green", "black"], q=q)

    @app.get("/apage")
    async def apage(q: str = ""):
        return render("page.html", title="Tea", items=["oolong"], q=q)

    client = make_client(app)
    response = client.get("/page?q=x")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Tea</title>" in response.text
    assert "<li>green</li><li>black</li>" in response.text
    assert '<a href="/blog/" data-q="x">/page</a>' in response.text
    assert "<li>oolong</li>" in client.get("/apage").text
    assert client.get("/blog/").text == "blog: Posts"


def test_user_input_is_escaped(site, make_client):
    app, _ = site

    @app.get("/page")
    def page(q: str = ""):
        return render("page.html", title=q, items=[q], q=q)

    client = make_client(app)
    for payload in XSS:
        html = client.get("/page", params={"q": payload}).text
        escaped = str(escape(payload))
        assert html.count(escaped) == 3  # title, item and attribute
        if escaped != payload:  # it holds a character HTML gives meaning to
            assert payload not in html
        assert "<script>" not in html and "<img" not in html and "<svg" not in html
        assert "49" not in html  # the input is data, never template code
    html = client.get("/page", params={"q": XSS[1]}).text
    assert 'data-q="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in html


def test_plain_text_is_not_escaped_and_types_follow_the_name(site, make_client):
    app, _ = site

    @app.get("/mail")
    def mail():
        return render("mail.txt", name="<Ann & Bob>")

    @app.get("/feed")
    def feed():
        return render("feed.xml", title="<b>")

    client = make_client(app)
    mail_response = client.get("/mail")
    assert mail_response.text == "Hello <Ann & Bob>"
    assert mail_response.headers["content-type"] == "text/plain; charset=utf-8"
    feed_response = client.get("/feed")
    assert feed_response.text == "<feed>&lt;b&gt;</feed>"
    assert feed_response.headers["content-type"].startswith("application/xml")


def test_template_route_option(site, make_client):
    app, templates = site
    write(templates, "item.html", "{{ name }}: {{ price }}")

    @app.get("/items/{name}", template="item.html")
    def item(name: str):
        if name == "gone":
            return {"name": name, "price": "-"}, 410
        if name == "away":
            from kettle import redirect

            return redirect("/items/tea")
        return {"name": name, "price": 3}

    @app.get("/aitems/{name}", template="item.html")
    async def aitem(name: str):
        return {"name": name, "price": 4}

    @app.get("/bad", template="item.html")
    def bad():
        return ["not", "a", "context"]

    client = make_client(app)
    assert client.get("/items/tea").text == "tea: 3"
    assert client.get("/aitems/<b>").text == "&lt;b&gt;: 4"
    gone = client.get("/items/gone")
    assert (gone.status_code, gone.text) == (410, "gone: -")
    away = client.get("/items/away", follow_redirects=False)
    assert away.status_code == 302
    assert client.get("/bad").status_code == 500
    strict = make_client(app, raise_server_exceptions=True)
    with pytest.raises(TypeError, match="return the template's context as a dict"):
        strict.get("/bad")


def test_template_option_is_checked(site):
    app, _ = site
    with pytest.raises(TypeError, match="template must be a template name"):

        @app.get("/x", template=3)  # type: ignore[arg-type]
        def x():
            return {}


def test_folders_are_searched_app_first(site, make_client):
    app, templates = site

    @app.get("/shared")
    def shared():
        return render("shared.html")

    client = make_client(app)
    assert client.get("/shared").text == "app's"
    assert get_templates(app).folders == [
        str(templates),
        os.path.join(app.root_path, "blog", "templates"),
    ]


def test_a_missing_template_names_the_folders(site):
    app, templates = site
    with app.app_context(), pytest.raises(TemplateNotFound) as caught:
        render("nope.html")
    assert str(templates) in str(caught.value)
    with app.app_context():  # a list: the first that exists
        assert render_to_string(["nope.html", "shared.html"]) == "app's"


def test_render_block_is_a_partial(site, make_client):
    app, _ = site

    @app.get("/items")
    def items():
        if request.headers.get("hx-request"):
            return render_block("page.html", "items", items=["a", "<b>"])
        return render("page.html", title="t", items=["a", "<b>"])

    client = make_client(app)
    partial = client.get("/items", headers={"hx-request": "true"})
    assert partial.text == "<li>a</li><li>&lt;b&gt;</li>"
    assert "<title>t</title>" in client.get("/items").text
    with app.app_context(), pytest.raises(LookupError, match="no block 'nope'"):
        render_block("page.html", "nope")


def test_context_processors_and_globals(site, make_client):
    app, templates = site
    write(
        templates,
        "globals.html",
        "{{ site }} {{ who }} {{ config.SITE }} {{ static('app.css') }}",
    )
    write(app.root_path and templates.parent / "static", "app.css", "x")

    @app.context_processor
    def site_values():
        return {"site": "Kettle", "who": "processor"}

    @app.get("/globals")
    def globals_page():
        return render("globals.html", who="handler")

    app.config["SITE"] = "conf"
    client = make_client(app)
    text = client.get("/globals").text
    assert text.startswith("Kettle handler conf /static/app.")
    assert text.endswith(".css")


def test_compiled_once_unless_reloading(tmp_path, make_client):
    for reload in (False, True):
        folder = tmp_path / str(reload)
        write(folder / "templates", "v.html", "one")
        app = Kettle(env_file=None, TEMPLATES_AUTO_RELOAD=reload)
        app.root_path = str(folder)

        @app.get("/v")
        def v():
            return render("v.html")

        client = make_client(app)
        assert client.get("/v").text == "one"
        path = folder / "templates" / "v.html"
        path.write_text("two")
        os.utime(path, (path.stat().st_atime + 10, path.stat().st_mtime + 10))
        assert client.get("/v").text == ("two" if reload else "one")


def test_debug_reloads_templates(tmp_path):
    write(tmp_path / "templates", "v.html", "x")
    app = Kettle(env_file=None, DEBUG=True)
    app.root_path = str(tmp_path)
    assert get_templates(app).auto_reload


def test_async_rendering_awaits_the_context(site, make_client):
    app, templates = site
    write(
        templates,
        "stream.html",
        "{% for n in numbers %}{{ n }},{% endfor %}{{ total() }}",
    )

    async def numbers():
        for n in (1, 2, 3):
            yield n

    async def total():
        return 6

    @app.get("/stream")
    async def stream():
        return await render_async("stream.html", numbers=numbers(), total=total)

    @app.get("/stream-option", template="stream.html")
    async def stream_option():
        return {"numbers": numbers(), "total": total}

    client = make_client(app)
    assert client.get("/stream").text == "1,2,3,6"
    assert client.get("/stream-option").text == "1,2,3,6"


def test_session_and_flashed_messages_in_templates(tmp_path, make_client):
    from kettle import flash
    from kettle import redirect
    from kettle import session

    write(
        tmp_path / "templates",
        "base.html",
        "{% for category, message in get_flashed_messages(with_categories=True) %}"
        '<p class="{{ category }}">{{ message }}</p>{% endfor %}'
        "{{ session.user }}",
    )
    app = Kettle(env_file=None, SECRET_KEY="k" * 32)
    app.root_path = str(tmp_path)

    @app.post("/login")
    def login(name: str):
        session["user"] = name
        flash(f"Welcome, {name}!", "success")
        return redirect("/")

    @app.get("/")
    def home():
        return render("base.html")

    client = make_client(app)
    page = client.post("/login", params={"name": "<script>x</script>"}).text
    assert page == (
        '<p class="success">Welcome, &lt;script&gt;x&lt;/script&gt;!</p>'
        "&lt;script&gt;x&lt;/script&gt;"
    )
    assert client.get("/").text == "&lt;script&gt;x&lt;/script&gt;"  # shown once


def test_the_type_and_escaping_follow_the_template_used(site, make_client):
    app, _ = site

    @app.get("/fallback")
    def fallback():
        return render(["missing.html", "mail.txt"], name="<b>")

    response = make_client(app).get("/fallback")
    assert response.text == "Hello <b>"  # plain text: not escaped...
    assert (
        response.headers["content-type"] == "text/plain; charset=utf-8"
    )  # ...nor HTML
