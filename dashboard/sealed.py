"""What a page keeps in the browser (a dcc.Store) and sends back to a callback, sealed: the JSON
text with an HMAC-SHA256 of it under the app's secret key (the session key: GMV_SESSION_SECRET or
DATA/session-secret) and the store's purpose. A callback opens only what this server sealed, for
that purpose: a hand-made or altered store is refused with `Forged`, never computed on."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import flask

from dashboard.said import Said

MAX_SEALED_CHARS = 256 * 1024  # far above any store the pages seal (a report's: ~10 KB)


class Forged(Said):
    """A store this server did not seal (or sealed for another purpose), or one altered since."""

    def __init__(self) -> None:
        super().__init__("page_altered")


def seal(purpose: str, data: Any, key: bytes | None = None) -> dict[str, str]:
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return {"sealed": text, "mac": _mac(purpose, text, key)}


def unseal(purpose: str, store: Any, key: bytes | None = None) -> Any:
    """The data of a store sealed for `purpose` (Forged otherwise)."""
    if not isinstance(store, dict) or set(store) != {"sealed", "mac"}:
        raise Forged()
    text, mac = store["sealed"], store["mac"]
    if not isinstance(text, str) or not isinstance(mac, str) or len(text) > MAX_SEALED_CHARS \
            or not hmac.compare_digest(mac.encode(), _mac(purpose, text, key).encode()):
        raise Forged()
    return json.loads(text)


def _mac(purpose: str, text: str, key: bytes | None) -> str:
    secret = key if key is not None else _app_key()
    message = purpose.encode() + b"\x00" + text.encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _app_key() -> bytes:
    """A key of its own for sealing, derived from the app's secret key."""
    secret = flask.current_app.secret_key
    raw = secret.encode() if isinstance(secret, str) else bytes(secret or b"")
    if not raw:
        raise RuntimeError("the app has no secret key to seal with")
    return hmac.new(raw, b"gmv sealed stores", hashlib.sha256).digest()
