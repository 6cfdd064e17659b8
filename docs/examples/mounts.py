"""Mounting other ASGI applications under a path prefix."""

from pathlib import Path

from kettle import Kettle
from kettle import url_for
from kettle.files import StaticFiles

HERE = Path(__file__).parent


async def legacy_app(scope, receive, send):
    """Any ASGI application: here a bare one."""
    body = f"legacy: root_path={scope['root_path']} path={scope['path']}"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


admin = Kettle()  # another Kettle app is an ASGI app too


@admin.get("/")
def admin_home():
    return {"home": url_for("admin_home")}  # includes the mount prefix


app = Kettle()
app.mount("/legacy", legacy_app)
app.mount("/admin", admin)
app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


@app.get("/")
def index():
    return "main app"


@app.get("/legacy/status")  # routes of the app win over mounts
def legacy_status():
    return {"ok": True}
