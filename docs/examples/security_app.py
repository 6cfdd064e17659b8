"""Security settings for production, a page with a CSP nonce, a handler with its
own headers, and a login that redirects to this site only."""

from kettle import Kettle
from kettle import Request
from kettle import Response
from kettle.middleware import ProxyHeadersMiddleware
from kettle.responses import RedirectResponse
from kettle.security import DEFAULT_CSP
from kettle.security import safe_next
from kettle.templating import render


class Production:
    """The settings `kettle check --deploy` asks for (SECRET_KEY comes from the
    KETTLE_SECRET_KEY environment variable)."""

    DEBUG = False
    ALLOWED_HOSTS = ["tea.example.com", ".tea.example.org"]
    HTTPS_REDIRECT = True  # behind a TLS proxy: with ProxyHeadersMiddleware
    SESSION_COOKIE_SECURE = True
    COOKIE_SECURE = True
    # The default policy, and images from a CDN too.
    CSP = {**DEFAULT_CSP, "img-src": ("'self'", "data:", "https://cdn.example.org")}


app = Kettle(settings=Production)
# The proxy reports the client's scheme (https) and host: HTTPS_REDIRECT, HSTS and
# ALLOWED_HOSTS go by what it reports.
app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=["10.0.0.0/8"])


@app.get("/")
def home():
    return render("security_page.html")  # reads csp_nonce: the policy allows it


@app.get("/widget")
def widget():
    # Headers a handler sets are kept: this page may be framed by the site itself.
    return Response(
        "<p>A widget</p>",
        media_type="text/html",
        headers={
            "X-Frame-Options": "SAMEORIGIN",
            "Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'",
        },
    )


@app.post("/login")
def login(request: Request):
    # ... check the credentials, then go where the login form came from, if
    # that is a page of this site: never to ?next=https://evil.example/.
    return RedirectResponse(safe_next(request, default="/"), 303)
