"""A mail backend of your own, in myproject/mail.py: this one logs a line per
message instead of sending it (a staging server, where no mail may leave)."""

import logging

from kettle import Kettle
from kettle.mail import MailBackend

log = logging.getLogger("myproject.mail")


class LogBackend(MailBackend):
    def __init__(self, app):
        super().__init__(app)  # sets self.app and self.default_from
        self.level = app.config.get("MAIL_LOG_LEVEL", logging.INFO)

    def send_messages(self, messages):
        for message in messages:
            email = message.as_email(self.default_from)  # checked, as for SMTP
            recipients = ", ".join(message.recipients())  # bcc too
            log.log(self.level, "mail to %s: %s", recipients, email["Subject"])
        return len(messages)  # how many were "sent"


app = Kettle(mail_backend="myproject.mail:LogBackend")  # made at the first send
