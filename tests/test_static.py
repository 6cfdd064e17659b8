"""The app's static files (``kettle.static``): the app's and each blueprint's
``static`` folder under ``/static``, fingerprinted URLs, caching headers, and no
way out of the folders."""

from __future__ import annotations

import hashlib
import os

import pytest

from kettle import Blueprint
from kettle import Kettle
from kettle import url_for
from kettle.static import IMMUTABLE
from kettle.static import static
from test_files import RAW_TRAVERSALS
from test_files import SECRET
from test_files import TRAVERSALS
from test_files import run_asgi
from test_files import run_wsgi

CSS = b"body { color: teal }"


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:12]


@pytest.fixture
def site(tmp_path):
    """An app in tmp_path with a static folder (and a secret beside it) and a
    blueprint with its own."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    static_dir = tmp_path / "static"
    (static_dir / "css").mkdir(parents=True)
    (static_dir / "css" / "app.css").write_bytes(CSS)
    (static_dir / "shared.txt").write_bytes(b"the app's")
    (static_dir / "LICENSE").write_bytes(b"BSD")
    (static_dir / "sub").mkdir()
    blog = tmp_path / "blog"
    (blog / "static" / "blog").mkdir(parents=True)
    (blog / "static" / "blog" / "blog.js").write_bytes(b"// blog")
    (blog / "static" / "shared.txt").write_bytes(b"the blueprint's")
    app = Kettle(env_file=None)
    app.root_path = str(tmp_path)
    app.register_blueprint(Blueprint("blog", root_path=blog))

    @app.get("/urls")
    def urls():
        return {
            "css": static("css/app.css"),
            "js": static("blog/blog.js"),
            "license": static("LICENSE"),
            "plain": url_for("static", filename="css/app.css"),
        }

    return app, static_dir


def test_fingerprinted_urls_are_served_with_a_long_cache(site, make_client):
    app, _ = site
    client = make_client(app)
    urls = client.get("/urls").json()
    assert urls == {
        "css": f"/static/css/app.{digest(CSS)}.css",
        "js": f"/static/blog/blog.{digest(b'// blog')}.js",
        "license": f"/static/LICENSE.{digest(b'BSD')}",
        "plain": "/static/css/app.css",
    }
    hashed = client.get(urls["css"])
    assert hashed.status_code == 200
    assert hashed.content == CSS
    assert hashed.headers["cache-control"] == IMMUTABLE
    assert hashed.headers["content-type"].startswith("text/css")
    assert client.get(urls["js"]).content == b"// blog"
    assert client.get(urls["license"]).content == b"BSD"
    plain = client.get(urls["plain"])
    assert plain.content == CSS
    assert plain.headers["cache-control"] == "no-cache"
    again = client.get(urls["plain"], headers={"if-none-match": plain.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    head = client.head(urls["css"])
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(CSS))


def test_a_changed_file_gets_a_new_url(site, make_client):
    app, static_dir = site
    client = make_client(app)
    old = client.get("/urls").json()["css"]
    changed = b"body { color: navy }  "
    (static_dir / "css" / "app.css").write_bytes(changed)
    os.utime(static_dir / "css" / "app.css", ns=(1, 1))  # another mtime for sure
    new = client.get("/urls").json()["css"]
    assert new == f"/static/css/app.{digest(changed)}.css" != old
    assert client.get(new).content == changed
    assert client.get(old).status_code == 404  # that content is gone
    wrong = f"/static/css/app.{'0' * 12}.css"
    assert client.get(wrong).status_code == 404


def test_the_apps_folder_comes_before_the_blueprints(site, make_client):
    app, static_dir = site
    client = make_client(app)
    assert client.get("/static/shared.txt").content == b"the app's"
    (static_dir / "shared.txt").unlink()
    assert client.get("/static/shared.txt").content == b"the blueprint's"


def test_missing_files(site, make_client):
    app, _ = site
    client = make_client(app)
    assert client.get("/static/nope.css").status_code == 404
    assert client.get("/static/sub").status_code == 404  # a folder
    assert client.get("/static/css/app.css/").status_code == 404  # names no folder
    with app.app_context(), pytest.raises(LookupError, match="no static file"):
        static("nope.css")


@pytest.mark.parametrize("url", TRAVERSALS)
def test_traversal_is_404(site, make_client, url):
    app, _ = site
    response = make_client(app).get(url)
    assert response.status_code == 404
    assert SECRET not in response.content


@pytest.mark.parametrize("path", RAW_TRAVERSALS)
def test_raw_traversal_is_404(site, path):
    app, _ = site
    messages, body = run_asgi(app, {"path": path, "raw_path": path.encode()})
    assert messages[0]["status"] == 404
    assert SECRET not in body
    status, _, body = run_wsgi(app.wsgi, path.encode().decode("latin-1"))
    assert status.startswith("404")
    assert SECRET not in body


def test_absolute_paths_are_404(site, make_client, tmp_path):
    app, _ = site
    client = make_client(app)
    secret = str(tmp_path / "secret.txt")
    for url in ("/static/" + secret, "/static/" + secret.replace("/", "%2F")):
        response = client.get(url)
        assert response.status_code == 404
        assert SECRET not in response.content


def test_static_files_can_be_turned_off(tmp_path, make_client):
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.txt").write_bytes(b"a")
    app = Kettle(env_file=None, STATIC_URL=None)
    app.root_path = str(tmp_path)
    client = make_client(app)
    assert client.get("/static/a.txt").status_code == 404
    with app.app_context(), pytest.raises(LookupError, match="STATIC_URL"):
        static("a.txt")


def test_another_url_and_folder(tmp_path, make_client):
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "a.txt").write_bytes(b"a")
    app = Kettle(env_file=None, STATIC_URL="/assets/", STATIC_FOLDER="assets")
    app.root_path = str(tmp_path)
    client = make_client(app)
    assert client.get("/assets/a.txt").content == b"a"
    with app.app_context():
        assert static("a.txt") == f"/assets/a.{digest(b'a')}.txt"


def test_blueprint_folders_are_next_to_its_module():
    here = os.path.dirname(os.path.abspath(__file__))
    assert Blueprint("b").root_path == here
    with pytest.raises(ValueError, match="import name"):
        Blueprint("b", "myapp.views")  # Flask's Blueprint(name, __name__)
