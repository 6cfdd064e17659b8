"""Mail settings for production, as a settings class (``Kettle(settings=...)``
or ``KETTLE_SETTINGS``). The password is not in the code: it comes from the
environment, ``KETTLE_MAIL_PASSWORD``."""


class Production:
    MAIL_HOST = "smtp.example.org"
    MAIL_PORT = 587  # the submission port, secured with STARTTLS
    MAIL_USE_TLS = True
    MAIL_USERNAME = "shop@example.org"
    MAIL_DEFAULT_FROM = "Tea Shop <shop@example.org>"
    MAIL_TIMEOUT = 10  # seconds; a server that does not answer is a MailError
