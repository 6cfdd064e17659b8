"""A task enqueued in a request's transaction is sent when it commits
(docs/tasks.md, "Enqueue on commit")."""

from sqlalchemy.orm import Session

from kettle import Kettle
from kettle.db import PK
from kettle.db import Mapped
from kettle.db import Model
from kettle.db import String
from kettle.db import mapped_column

app = Kettle()


class Member(Model):
    __tablename__ = "docs_tasks_member"
    id: Mapped[PK]
    email: Mapped[str] = mapped_column(String(200), unique=True)
    welcomed: Mapped[bool] = mapped_column(default=False)


@app.task(retries=5)
def send_welcome(member_id: int, db: Session) -> str:
    # db: a fresh session for this run, committed when the task returns
    member = db.get(Member, member_id)
    # ... send the e-mail ...
    member.welcomed = True
    return member.email


@app.post("/members")
def join(email: str, db: Session) -> dict:
    member = Member(email=email)
    db.add(member)
    db.flush()  # member.id is known; the transaction is still open
    job = send_welcome.enqueue(member.id)  # sent when the request commits
    return {"id": member.id, "job": job.id}
