"""One blocking HTTP/1.1 connection to ``POST /api/bots/update``, kept open between batches."""

from __future__ import annotations

import http.client
import urllib.parse

__all__ = ["HttpTransport", "TransportError"]

TransportError = (OSError, http.client.HTTPException)
"""What a post raises when no answer came: the connection failed, broke or timed out."""


class HttpTransport:
    """Posts bodies and returns ``(status, body)``; raises a ``TransportError`` when nothing came back."""

    def __init__(self, url: str, *, token: str | None, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http(s)://host[:port], got {url!r}")
        self._parts = parts
        self.path = parts.path.rstrip("/") + "/api/bots/update"
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, bytes]:
        if self._conn is None:
            host = self._parts.hostname or "127.0.0.1"
            cls = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            self._conn = cls(host, self._parts.port, timeout=self.timeout_s)
        try:
            self._conn.request("POST", self.path, body, self._headers)
            response = self._conn.getresponse()
            return response.status, response.read()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
