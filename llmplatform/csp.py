"""The Content-Security-Policy of every response: scripts, styles and everything else from this server only.

Every script of the console, the admin and Swagger UI (/docs) is a file served from here:
no inline script, no eval (htmx's eval is off, see templates/base.html), so a piece of
injected markup cannot run. Style sheets too; only style *attributes* may be inline
(`style-src-attr`): the console's templates size progress bars with them, and an
attribute can neither run code nor load anything from elsewhere (`img-src` and the rest
are this server's). Images may also be `data:` URLs (Swagger UI's icons are).

The policy is fixed, so a small middleware sends it rather than a library: there is no
nonce to make per request, and nothing differs between pages.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "style-src-attr": "'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HEADER_VALUE = "; ".join(f"{directive} {sources}" for directive, sources in POLICY.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", HEADER_VALUE)
        return response
