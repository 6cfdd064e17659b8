"""Typed handlers: every parameter source, dependencies and response models."""

import enum
from typing import Annotated

from pydantic import BaseModel
from pydantic import Field

from kettle import Body
from kettle import Cookie
from kettle import Depends
from kettle import File
from kettle import Form
from kettle import Header
from kettle import HTTPException
from kettle import Kettle
from kettle import Path
from kettle import Query
from kettle import UploadFile

app = Kettle(OPENAPI_TITLE="Tea shop")


# -- query and path
class Sort(enum.Enum):
    NEW = "new"
    OLD = "old"


@app.get("/teas")
def list_teas(
    q: str | None = None,  # optional: None when absent
    page: Annotated[int, Query(ge=1, le=100)] = 1,  # with bounds
    sort: Sort = Sort.NEW,  # one of the enum's values
    tag: list[str] = [],  # repeated keys: ?tag=green&tag=jp  # noqa: B006
):
    return {"q": q, "page": page, "sort": sort.value, "tag": tag}


@app.get("/teas/{tea_id:int}")
def show_tea(tea_id: Annotated[int, Path(ge=1)]):
    return {"id": tea_id}


# -- headers and cookies
@app.get("/whoami")
def whoami(
    user_agent: str = Header(),  # reads User-Agent
    x_trace: Annotated[str | None, Header()] = None,  # reads X-Trace
    theme: str = Cookie("light"),
):
    return {"agent": user_agent, "trace": x_trace, "theme": theme}


# -- bodies
class TeaIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    price: float = Field(gt=0)
    tags: list[str] = []


class TeaOut(BaseModel):
    id: int
    name: str
    price: float


@app.post("/teas", status_code=201, tags=["teas"])
def create_tea(tea: TeaIn) -> TeaOut:
    """Add a tea.

    The body is a TeaIn; the answer is filtered through TeaOut."""
    return TeaOut(id=1, name=tea.name, price=tea.price)


@app.put("/teas/{tea_id:int}/price")
def set_price(tea_id: int, price: Annotated[float, Body(gt=0, embed=True)]):
    return {"id": tea_id, "price": price}


@app.post("/labels")
async def upload_label(
    label: UploadFile,
    thumbnail: bytes = File(b""),
    caption: str = Form(""),
):
    data = await label.read()
    return {"file": label.filename, "size": len(data), "caption": caption}


# -- dependencies
def pagination(page: Annotated[int, Query(ge=1)] = 1, per_page: int = 20):
    return {"offset": (page - 1) * per_page, "limit": per_page}


async def api_key(x_api_key: str = Header()):
    if x_api_key != "s3cret":
        raise HTTPException(401, "Wrong API key.")
    return x_api_key


class Store:
    def __init__(self):
        self.open = True
        self.log: list[str] = []


STORE_LOG: list[str] = []


def store():
    s = Store()
    try:
        yield s  # the handler runs here
        STORE_LOG.append("commit")
    except Exception:
        STORE_LOG.append("rollback")
        raise
    finally:
        s.open = False


@app.get("/orders")
def orders(
    page: Annotated[dict, Depends(pagination)],
    key: str = Depends(api_key),
    db: Store = Depends(store),
    fail: bool = False,
):
    if fail:
        raise HTTPException(409, "Conflict.")
    return {"page": page, "open": db.open}
# -- end
