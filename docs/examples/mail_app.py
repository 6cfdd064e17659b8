"""Sending mail from handlers: a contact form, a welcome message with an HTML
part, and a newsletter sent over one connection."""

from html import escape

from kettle import Form
from kettle import Kettle
from kettle.mail import Message
from kettle.mail import send_mail_async
from kettle.mail import send_messages

app = Kettle()  # MAIL_* settings come from the settings, the environment or .env

SUBSCRIBERS = ["ann@example.org", "Bob Lee <bob@example.org>"]


@app.post("/contact")
def contact(email: str = Form(), text: str = Form()):
    try:
        message = Message("Contact form", text, "staff@example.org", reply_to=email)
    except ValueError:  # not one email address (or a line break: an injection)
        return {"errors": {"email": ["Enter an email address."]}}, 422
    send_messages([message])  # through the current app's backend
    return {"sent": True}


@app.post("/welcome")
async def welcome(name: str = Form(), email: str = Form()):
    # In an async handler, await the *_async functions: they send from
    # Kettle's thread pool, and the event loop serves other requests meanwhile.
    await send_mail_async(
        "Welcome to the tea shop",
        f"Hello {name},\n\nthank you for signing up.\n",
        email,  # checked by the sign-up form before (a bad one is a ValueError)
        html=f"<p>Hello {escape(name)},</p><p>thank you for signing up.</p>",
    )
    return {"sent": True}


@app.post("/newsletter")
def newsletter(subject: str = Form(), text: str = Form()):
    # One message per reader (no one sees the others' addresses), all sent over
    # one SMTP connection.
    messages = [Message(subject, text, reader) for reader in SUBSCRIBERS]
    return {"sent": send_messages(messages)}
