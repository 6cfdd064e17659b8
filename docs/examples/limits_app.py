"""Body, upload and form limits, set per app."""

from kettle import Kettle
from kettle import Request

app = Kettle(
    MAX_BODY_SIZE=64 * 1024,  # JSON and urlencoded bodies: 64 KiB
    MAX_UPLOAD_SIZE=10 * 1024 * 1024,  # a whole multipart body: 10 MiB
    MAX_FILE_SIZE=5 * 1024 * 1024,  # one uploaded file: 5 MiB
    MAX_FORM_FIELDS=50,  # fields and files in one form
    MAX_FORM_FILES=3,  # files in one form
    MAX_FORM_PART_SIZE=16 * 1024,  # one non-file multipart field
)


@app.post("/api/notes")
async def create_note(request: Request):
    data = await request.json()
    return {"length": len(data.get("text", ""))}, 201


@app.post("/photos")
async def upload_photos(request: Request):
    form = await request.form()
    return {"sizes": [upload.size for upload in form.uploads()]}


@app.post("/ingest")
async def ingest(request: Request):
    size = 0
    async for chunk in request.stream():  # a stream has no size limit
        size += len(chunk)
    return {"size": size}
