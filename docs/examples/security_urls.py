"""Redirect targets that is_safe_url accepts and refuses, for a site served at
shop.example (in a handler, pass the request instead of the host)."""

from kettle.security import is_safe_url

HOST = "shop.example"

SAFE = [
    "/account",  # a path of this site
    "orders?page=2",  # relative to the current page
    "https://shop.example/cart",  # this host
    "//shop.example/cart",  # this host, the current scheme
]

UNSAFE = [
    "https://evil.example/",  # another host
    "//evil.example/",  # "//" keeps the scheme, not the host
    "/\\evil.example",  # browsers read "\" as "/": "//evil.example"
    "javascript:alert(1)",  # other schemes
    "\t//evil.example",  # browsers drop the tab
    "http:evil.example",  # a scheme without a host
    "https://shop.example@evil.example/",  # a user name, then the host
]


def check() -> None:
    assert all(is_safe_url(url, HOST) for url in SAFE)
    assert not any(is_safe_url(url, HOST) for url in UNSAFE)
    # Other hosts the site may redirect to: allowed_hosts.
    assert is_safe_url("https://cdn.example/x", HOST, allowed_hosts=["cdn.example"])
    # http: links are refused when the request came over HTTPS (or with this).
    assert not is_safe_url("http://shop.example/", HOST, require_https=True)
