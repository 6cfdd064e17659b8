"""The OpenAPI document and the docs page."""

# NOTE: no "from __future__ import annotations": handlers here use local classes.

from typing import Annotated

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel
from pydantic import Field

from kettle import Blueprint
from kettle import Body
from kettle import Cookie
from kettle import Depends
from kettle import Form
from kettle import Header
from kettle import Kettle
from kettle import Path
from kettle import Query
from kettle import UploadFile
from kettle.exceptions import ImproperlyConfigured
from kettle.openapi.docs_page import ASSETS
from kettle.openapi.docs_page import STATIC_DIR


class PetIn(BaseModel):
    name: str = Field(min_length=1)
    age: int = Field(ge=0)


class PetOut(BaseModel):
    id: int
    name: str


class Problem(BaseModel):
    detail: str


def build() -> Kettle:
    app = Kettle(env_file=None, OPENAPI_TITLE="Pets", OPENAPI_VERSION="2.1")

    def key(x_api_key: str = Header(description="The caller's key")):
        return x_api_key

    @app.get("/pets", tags=["pets"])
    def pets(
        limit: Annotated[int, Query(ge=1, le=50, description="Page size")] = 10,
        tag: list[str] = [],
        hidden: str = Query("", include_in_schema=False),
        session: str | None = Cookie(None),
    ) -> list[PetOut]:
        """List pets.

        Newest first."""
        return []

    @app.post(
        "/pets",
        tags=["pets"],
        status_code=201,
        responses={401: {"description": "Bad key", "model": Problem}},
    )
    def create(pet: PetIn, k: str = Depends(key)) -> PetOut:
        return PetOut(id=1, name=pet.name)

    @app.put("/pets/{pet_id:int}", summary="Replace a pet", deprecated=True)
    def replace(pet_id: int, pet: PetIn, note: str = Body(""), k=Depends(key)):
        return {}

    @app.post("/photos")
    def photo(image: UploadFile, caption: str = Form("")):
        return {}

    @app.get("/secret", include_in_schema=False)
    def secret():
        return "s"

    bp = Blueprint("shop", url_prefix="/shop")

    @bp.get("/items/{slug:slug}")
    def shop_item(slug: str):
        return {}

    app.register_blueprint(bp)
    return app


def test_document_is_valid_openapi_31(make_client):
    doc = make_client(build()).get("/openapi.json").json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "Pets", "version": "2.1"}
    assert set(doc["paths"]) == {
        "/pets",
        "/pets/{pet_id}",
        "/photos",
        "/shop/items/{slug}",
    }
    assert doc["tags"] == [{"name": "pets"}, {"name": "shop"}]


def test_operations_carry_parameters_bodies_and_responses(make_client):
    doc = make_client(build()).get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    listing = doc["paths"]["/pets"]["get"]
    assert listing["summary"] == "List pets."
    assert listing["description"] == "Newest first."
    params = {p["name"]: p for p in listing["parameters"]}
    assert set(params) == {"limit", "tag", "session"}  # hidden is left out
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 50,
        "default": 10,
    }
    assert params["limit"]["description"] == "Page size"
    assert params["limit"]["required"] is False
    assert params["tag"]["schema"]["type"] == "array"
    assert params["session"]["in"] == "cookie"
    ok = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["type"] == "array"
    assert ok["items"] == {"$ref": "#/components/schemas/PetOut"}
    assert "422" in listing["responses"]

    create = doc["paths"]["/pets"]["post"]
    assert set(create["responses"]) == {"201", "401", "422"}
    assert create["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    header = create["parameters"][0]
    assert header == {
        "name": "x-api-key",
        "in": "header",
        "required": True,
        "description": "The caller's key",
        "schema": {"type": "string"},
    }  # from the dependency
    body = create["requestBody"]
    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"]
    pet_in = schemas[ref.rsplit("/", 1)[1]]
    assert pet_in["properties"]["name"]["minLength"] == 1
    assert pet_in["required"] == ["name", "age"]

    replace = doc["paths"]["/pets/{pet_id}"]["put"]
    assert replace["summary"] == "Replace a pet"
    assert replace["deprecated"] is True
    assert replace["parameters"][0]["in"] == "path"
    assert replace["parameters"][0]["schema"]["type"] == "integer"
    embedded = replace["requestBody"]["content"]["application/json"]["schema"]
    embedded_schema = schemas[embedded["$ref"].rsplit("/", 1)[1]]
    assert set(embedded_schema["properties"]) == {"pet", "note"}

    photo = doc["paths"]["/photos"]["post"]["requestBody"]["content"]
    form = photo["multipart/form-data"]["schema"]
    assert form["properties"]["image"] == {"type": "string", "format": "binary"}
    assert form["required"] == ["image"]

    shop = doc["paths"]["/shop/items/{slug}"]["get"]
    assert shop["tags"] == ["shop"]
    assert "422" not in shop["responses"]
    assert "HTTPValidationError" in schemas


def test_docs_page_and_assets_are_served_from_the_package(make_client):
    c = make_client(build())
    page = c.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-openapi-url="/openapi.json"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for name, media in ASSETS.items():
        assert f"/docs/static/{name}" in page.text or name == "favicon-32x32.png"
        r = c.get(f"/docs/static/{name}")
        assert r.status_code == 200
        assert r.headers["content-type"] == media
        assert r.content == (STATIC_DIR / name).read_bytes()
    assert c.get("/docs/static/VERSION").status_code == 404  # only the assets
    assert c.get("/docs/static/..%2f__init__.py").status_code == 404
    assert (STATIC_DIR / "VERSION").read_text().startswith("swagger-ui-dist@5.")
    assert (STATIC_DIR / "LICENSE").exists()


def test_urls_can_be_moved_or_turned_off(make_client):
    app = Kettle(env_file=None, OPENAPI_URL="/api/schema.json", DOCS_URL="/api/docs")

    @app.get("/x")
    def x():
        return "x"

    c = make_client(app)
    assert c.get("/openapi.json").status_code == 404
    assert c.get("/api/schema.json").json()["paths"].keys() == {"/x"}
    assert 'data-openapi-url="/api/schema.json"' in c.get("/api/docs").text
    assert c.get("/api/docs/static/swagger-ui.css").status_code == 200

    off = Kettle(env_file=None, OPENAPI_URL=None)
    c = make_client(off)
    assert c.get("/openapi.json").status_code == 404
    assert c.get("/docs").status_code == 404

    no_page = Kettle(env_file=None, DOCS_URL=None)
    c = make_client(no_page)
    assert c.get("/openapi.json").status_code == 200
    assert c.get("/docs").status_code == 404


def test_a_route_of_the_same_path_is_a_clear_error():
    app = Kettle(env_file=None)

    @app.get("/docs")
    def my_docs():
        return "mine"

    with pytest.raises(ImproperlyConfigured, match="DOCS_URL '/docs' is already"):
        app.setup()
    with pytest.raises(ImproperlyConfigured, match="must be a path"):
        Kettle(env_file=None, OPENAPI_URL="openapi.json").setup()


def test_scalar_only_app_does_not_import_pydantic_until_the_document():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from kettle import Kettle\n"
        "app = Kettle(env_file=None)\n"
        "@app.get('/q')\n"
        "def q(a: int, b: str = 'x'): return {}\n"
        "with app.test_client() as c:\n"
        "    assert c.get('/q?a=1').status_code == 200\n"
        "    assert 'pydantic' not in sys.modules\n"
        "    assert c.get('/openapi.json').status_code == 200\n"
        "    assert 'pydantic' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_path_marker_documents_a_converter_parameter(make_client):
    app = Kettle(env_file=None)

    @app.get("/books/{book_id:int}")
    def book(book_id: int = Path(description="The book's id", examples=[7])):
        return {"id": book_id}

    c = make_client(app)
    assert c.get("/books/7").json() == {"id": 7}
    param = c.get("/openapi.json").json()["paths"]["/books/{book_id}"]["get"][
        "parameters"
    ][0]
    assert param == {
        "name": "book_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
        "description": "The book's id",
        "examples": {"example1": {"value": 7}},
    }
