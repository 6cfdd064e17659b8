"""Creating users and groups, granting permissions (a script, a fixture, a shell)."""

from sqlalchemy.orm import Session

from kettle.auth import Group
from kettle.auth import User
from kettle.auth import grant


def create_people(db: Session) -> None:
    editors = Group(name="editors")
    grant(db, editors, "story.publish", "story.change")  # unknown codes raise
    ann = User(username="ann", email="ann@example.org", password="a long passphrase")
    ann.groups.append(editors)  # ann may publish, through the group
    bob = User(username="bob", password="another passphrase")
    db.add_all([editors, ann, bob])
    db.commit()
