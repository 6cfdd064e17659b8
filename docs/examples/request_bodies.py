"""Reading the body: bytes, JSON, forms, uploads and streams."""

import hashlib

from kettle import Kettle
from kettle import Request
from kettle import UploadFile

app = Kettle()


@app.post("/echo")
async def echo(request: Request):
    body = await request.body()  # bytes, at most MAX_BODY_SIZE
    return {"size": len(body), "content_type": request.content_type}


@app.post("/notes")
async def create_note(request: Request):
    data = await request.json()  # 415 unless Content-Type is JSON, 400 if malformed
    return {"text": data["text"]}, 201


@app.post("/signup")
async def signup(request: Request):
    form = await request.form()  # urlencoded or multipart
    return {"email": form["email"], "topics": form.getlist("topic")}


@app.post("/avatar")
async def upload_avatar(request: Request):
    form = await request.form()
    upload = form["image"]
    if not isinstance(upload, UploadFile):
        return {"detail": "'image' must be a file"}, 400
    head = await upload.read(4)
    return {
        "filename": upload.filename,
        "content_type": upload.content_type,
        "size": upload.size,
        "head": head.hex(),
    }


@app.post("/checksum")
async def checksum(request: Request):
    digest = hashlib.sha256()
    async for chunk in request.stream():  # no size limit: chunks as they arrive
        digest.update(chunk)
    return {"sha256": digest.hexdigest()}


# -- the same from `def` handlers ------------------------------------------------------
@app.post("/sync/notes")
def create_note_sync(request: Request):
    data = request.get_json()
    return {"text": data["text"]}, 201


@app.post("/sync/avatar")
def upload_avatar_sync(request: Request):
    form = request.get_form()
    upload = form["image"]
    data = upload.file.read()  # sync code may use the file object directly
    return {"filename": upload.filename, "size": len(data)}
