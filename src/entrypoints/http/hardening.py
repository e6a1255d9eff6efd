"""HTTP hardening: security headers on every response, CORS only for configured origins."""

from litestar.config.cors import CORSConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from entrypoints.http.request_context import REQUEST_ID_HEADER

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
# The API answers JSON only; the OpenAPI page under /schema needs its own scripts and styles.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The console's pages: scripts and styles from /console/static only, never inline.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
EXPOSED_HEADERS = [
    REQUEST_ID_HEADER, "Retry-After", "Idempotent-Replayed",
    "RateLimit-Policy", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
]  # fmt: skip


async def add_security_headers(message: Message, scope: Scope) -> None:
    """before_send hook."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    path = scope.get("path", "")
    if path.startswith("/console"):
        headers["Content-Security-Policy"] = CONSOLE_CSP
        headers["Cache-Control"] = "no-store"
    elif not path.startswith("/schema"):
        headers["Content-Security-Policy"] = API_CSP
        headers["Cache-Control"] = "no-store"


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """No CORS headers at all unless origins are configured: browsers then refuse cross-origin."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", REQUEST_ID_HEADER],
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=600,
    )
