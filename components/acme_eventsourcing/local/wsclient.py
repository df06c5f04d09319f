"""`WebSocketClient`: a standard WebSocket client (`websockets`) that keeps what it receives.

    with stack.websocket("john") as john:            # ws://127.0.0.1:<port>/<stage>?token=<john's JWT>
        ...                                           # a command
        message = john.wait(lambda m: m["type"] == "changed", timeout=5)
        john.received                                 # every message so far, with when it arrived

A thread reads the connection as messages arrive (JSON messages parsed, others kept as
text), so `wait` measures when a message arrived, not when it was asked for. Used by the
demo, the end-to-end tests and `benchmarks/bench_live.py`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


@dataclass(frozen=True)
class Received:
    """One message: `data` (parsed JSON, else the text or bytes), `at` (`time.perf_counter()`)
    and `wall` (`time.time()`) when it arrived."""

    data: Any
    at: float
    wall: float = 0.0


class WebSocketClient:
    """A connection to `url` (refused handshakes raise `websockets.exceptions.InvalidStatus`,
    whose `.response.status_code` says why). `received` grows as messages arrive."""

    def __init__(self, url: str, *, open_timeout: float = 10.0) -> None:
        self.url = url
        self.connection: ClientConnection = connect(url, open_timeout=open_timeout, max_size=None)
        self.received: list[Received] = []
        self.closed: ConnectionClosed | None = None  # how the connection ended, once it has
        self._arrived = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="ws-client", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for raw in self.connection:
                at, wall = time.perf_counter(), time.time()
                try:
                    data: Any = json.loads(raw)
                except ValueError:
                    data = raw
                with self._arrived:
                    self.received.append(Received(data, at, wall))
                    self._arrived.notify_all()
        except ConnectionClosed as exc:
            self.closed = exc
        finally:
            with self._arrived:
                self._arrived.notify_all()

    @property
    def messages(self) -> list[Any]:
        """Every message received so far (data only), in order."""
        with self._arrived:
            return [r.data for r in self.received]

    def send(self, message: Any) -> None:
        """Send `message` (JSON unless it is already text or bytes)."""
        self.connection.send(message if isinstance(message, str | bytes) else json.dumps(message))

    def wait(self, match: Callable[[Any], bool] = lambda _: True, *, after: int = 0, timeout: float = 10.0) -> Received:
        """The first message at index `after` or later for which `match(data)` holds, waiting
        up to `timeout` seconds for it (TimeoutError, saying what did arrive)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for r in self.received[after:]:
                    if match(r.data):
                        return r
                left = deadline - time.monotonic()
                if left <= 0 or (self.closed is not None and not self._reader.is_alive()):
                    seen = [r.data for r in self.received[after:]]
                    raise TimeoutError(f"no matching message within {timeout} s on {self.url.split('?')[0]}; received {seen}")
                self._arrived.wait(left)

    def close(self) -> None:
        self.connection.close()
        self._reader.join(timeout=5)

    def __enter__(self) -> WebSocketClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
