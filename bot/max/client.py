"""HTTP client of MAX's Bot API: one aiohttp session, the token in a header, MAX's errors
as exceptions.

MAX takes the token only as the bare ``Authorization`` header (no ``Bearer``; the
``access_token`` query parameter is no longer accepted, dev.max.ru/docs-api). The token is
never put in a URL, where proxies and access logs would keep it, and never logged. Refusals
come as ``{"code": ..., "message": ...}`` with an HTTP status; a proxy in front of MAX may
answer a 5xx with an HTML page instead, which is still a MaxApiError of that status.
"""

from __future__ import annotations

import json as jsonlib
import ssl
from typing import Any

import aiohttp

from bot.max.tls import max_ssl_context

DEFAULT_API_URL = "https://platform-api2.max.ru"


class MaxApiError(Exception):
    """MAX refused the call: HTTP ``status``, MAX's ``code`` (e.g. ``chat.denied``) and
    ``message`` (which may quote the request: never log it)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message


class MaxNetworkError(Exception):
    """No answer from MAX: the connection failed or broke, or the call timed out. The call
    may or may not have taken effect."""


def _query(params: dict[str, Any] | None) -> dict[str, str]:
    """Query values as MAX reads them: booleans as ``true``/``false``, None left out."""
    out: dict[str, str] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _error_of(status: int, text: str) -> MaxApiError:
    try:
        body = jsonlib.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return MaxApiError(status, body["code"], str(body.get("message") or ""))
    return MaxApiError(status, f"http.{status}", "not a MAX error body")


class MaxClient:
    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not token:
            raise ValueError("the MAX token is empty")
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # the token stays out of reprs and tracebacks' locals
        return f"MaxClient(api_url={self.api_url!r})"

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            context = self._ssl or max_ssl_context()
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-call HTTP timeout
    ) -> Any:
        """Call ``path`` of the API; the parsed JSON answer. Raises MaxApiError or
        MaxNetworkError."""
        headers = {"Authorization": self._token}
        return await self._call(
            method,
            f"{self.api_url}/{path.lstrip('/')}",
            headers=headers,
            params=_query(params),
            json=json,
            data=data,
            timeout=timeout,
        )

    async def upload(
        self,
        url: str,
        content: bytes,
        filename: str,
        content_type: str = "application/octet-stream",
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-call HTTP timeout
    ) -> Any:
        """POST a file to an upload URL from ``POST /uploads`` as the multipart field
        ``data`` (MAX's schema). The upload host needs no token, so none is sent to it.
        The file name goes as UTF-8, unquoted, as browsers send it: aiohttp's default
        percent-encodes non-ASCII names, and the person would see ``%D0%9E...``."""
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("data", content, filename=filename, content_type=content_type)
        return await self._call("POST", url, headers={}, params={}, data=form, timeout=timeout)

    async def _call(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        params: dict[str, str],
        json: Any = None,
        data: Any = None,
        timeout: float | None,  # noqa: ASYNC109 - a per-call HTTP timeout
    ) -> Any:
        limit = aiohttp.ClientTimeout(total=self.timeout if timeout is None else timeout)
        try:
            async with self._http().request(
                method, url, headers=headers, params=params, json=json, data=data, timeout=limit
            ) as response:
                text = await response.text(encoding="utf-8", errors="replace")
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise MaxNetworkError(type(exc).__name__) from exc
        if status != 200:
            raise _error_of(status, text)
        if not text.strip():
            return None
        try:
            return jsonlib.loads(text)
        except ValueError:
            raise MaxApiError(status, "invalid.json", "the answer is not JSON") from None

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
