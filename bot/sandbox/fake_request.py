"""Door 1 into the offline Telegram: a PTB `BaseRequest` that hands each call to a FakeTelegram.

Parameters are taken exactly as PTB would put them on the wire (`json_parameters` and the
multipart parts), and the answer goes back as Telegram's JSON envelope with its HTTP status, so
PTB's own error mapping (BadRequest, Forbidden, RetryAfter, ...) runs unchanged.
"""

from __future__ import annotations

import json
import re
from typing import IO

from telegram._utils.types import ODVInput
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from bot.sandbox.fake_telegram import FakeTelegram, SimulatedTimeout, Upload

_METHOD_URL = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_FILE_URL = re.compile(r"/file/bot(?P<token>[^/]+)/(?P<path>.+)$")
_UNAUTHORIZED = (401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}')
_NOT_FOUND = (404, b'{"ok":false,"error_code":404,"description":"Not Found"}')


class FakeRequest(BaseRequest):
    """Serves `telegram.Bot` from a FakeTelegram in the same process; no sockets involved."""

    def __init__(self, core: FakeTelegram, *, read_timeout: float | None = 5.0) -> None:
        self.core = core
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to open: the core lives in memory."""

    async def shutdown(self) -> None:
        """Nothing to close; the core outlives any one Application (restart tests reuse it)."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        download = _FILE_URL.search(url)
        if download is not None:
            if not self.core.check_token(download["token"]):
                return _UNAUTHORIZED
            content = self.core.file_content(download["path"])
            return _NOT_FOUND if content is None else (200, content)
        call = _METHOD_URL.search(url)
        if call is None:
            return _NOT_FOUND
        if not self.core.check_token(call["token"]):
            return _UNAUTHORIZED
        params = request_data.json_parameters if request_data else {}
        files = _uploads(request_data.multipart_data) if request_data and request_data.contains_files else {}
        try:
            status, body = await self.core.handle(call["method"], params, files)
        except SimulatedTimeout as exc:
            raise TimedOut(f"Timed out (simulated after {exc.delay}s)") from exc
        return status, json.dumps(body, ensure_ascii=False).encode()


def _uploads(parts: dict[str, tuple[str, bytes | IO[bytes], str]]) -> dict[str, Upload]:
    """Multipart parts with file handles read, as the server receives them."""
    files: dict[str, Upload] = {}
    for name, (file_name, content, mime_type) in parts.items():
        files[name] = (file_name, content if isinstance(content, bytes) else content.read(), mime_type)
    return files
