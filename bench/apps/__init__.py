"""One app module per framework and interface, all answering the same endpoints.

Each module exposes ``app`` (no middleware) and ``mw_app`` (the same routes behind the
framework's CORS + GZip + TrustedHost equivalents); see ``bench/README.md``.
"""
