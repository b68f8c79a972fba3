"""Harness for test_testclient.py, the official clients' own suite
(TestClient of the Haxe client library) through the official Python client:
Shoal with the TEST adapter set, the suite's ordered expectations, one
scenario on one transport, and an HTTP proxy asking for credentials.
"""

import asyncio
import base64
import concurrent.futures
import shutil
import tempfile
import threading
import urllib.parse
from pathlib import Path

from lightstreamer.client import ClientListener, LightstreamerClient

from shoal_server import Shoal

TRANSPORTS = ["WS-STREAMING", "HTTP-STREAMING", "WS-POLLING", "HTTP-POLLING"]
# The listener name of Lightstreamer's factory configuration, expected as SERVNAME.
SERVER_NAME = "Lightstreamer HTTP Server"
# Upstream gives each scenario 3 s; two shared cores need more.
SCENARIO_TIMEOUT_S = 15
POLLING_INTERVAL_MS = 100
POLLING_IDLE_MS = 0
CONF = f"""<?xml version="1.0" encoding="UTF-8"?>
<lightstreamer_conf>
  <http_server name="{SERVER_NAME}">
    <port>0</port>
    <listening_interface>127.0.0.1</listening_interface>
  </http_server>
</lightstreamer_conf>
"""


class Server(Shoal):
    """shoal serve with the TEST adapter set, one listener named as Lightstreamer's."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="shoal-testclient-")
        conf = Path(self.dir) / "lightstreamer_conf.xml"
        conf.write_text(CONF)
        super().__init__(["--config", str(conf), "--test-adapters",
                          "--drain-grace", "0", "--drain-window", "0"])

    def stop(self):
        super().stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def listener(base, **callbacks):
    """An instance of a listener class of the client with these methods."""
    obj = base()
    for name, fn in callbacks.items():
        setattr(obj, name, fn)
    return obj


class Expectations:
    """Ordered expectations on named signals, as the suite's
    utils.Expectations: await_ consumes the next signal, which must be the
    one given; then(block) runs block (on a thread of its own, in order)
    once the awaits before it are met; later signals are ignored."""

    def __init__(self, fail):
        self.slots = []
        self.fail = fail
        self.seen = []
        self.lock = threading.Lock()
        self.runner = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def await_(self, expected):
        self.slots.append(("await", expected))
        return self

    def then(self, block):
        self.slots.append(("block", block))
        return self

    def verify(self):
        with self.lock:
            self._run_blocks()

    def signal(self, actual):
        with self.lock:
            self.seen.append(actual)
            if self.slots:
                kind, value = self.slots.pop(0)
                if kind == "block":
                    self.fail(AssertionError(f"signal {actual!r} while a block was due"))
                elif value != actual:
                    self.fail(AssertionError(f"expected signal {value!r}, got {actual!r}"))
            self._run_blocks()

    def _run_blocks(self):
        while self.slots and self.slots[0][0] == "block":
            _, block = self.slots.pop(0)
            self.runner.submit(self._guarded, block)

    def _guarded(self, block):
        try:
            block()
        except Exception as err:  # noqa: BLE001 - any failure fails the scenario
            self.fail(err)


class Scenario:
    """One scenario on one transport: its clients, its checks, its end."""

    def __init__(self, server, transport):
        self.server = server
        self.url = server.url
        self.transport = transport
        self.done = threading.Event()
        self.error = None
        self.clients = []
        self.statuses = []
        self.exps = Expectations(self.fail)

    def client(self, adapter_set="TEST"):
        c = LightstreamerClient(self.url, adapter_set)
        c.connectionOptions.setForcedTransport(self.transport)
        if self.transport.endswith("POLLING"):
            c.connectionOptions.setIdleTimeout(POLLING_IDLE_MS)
            c.connectionOptions.setPollingInterval(POLLING_INTERVAL_MS)
        c.addListener(listener(ClientListener, onStatusChange=self.statuses.append))
        self.clients.append(c)
        return c

    def equals(self, expected, actual, what=""):
        if expected != actual:
            self.fail(AssertionError(f"{what}: expected {expected!r}, got {actual!r}"))

    def is_true(self, value, what=""):
        self.equals(True, value, what)

    def completed(self):
        self.done.set()

    def fail(self, err):
        if self.error is None:
            self.error = err
        self.done.set()

    def run(self, body):
        try:
            body(self)
        except Exception as err:  # noqa: BLE001 - any failure fails the scenario
            self.fail(err)
        finished = self.done.wait(SCENARIO_TIMEOUT_S)
        for c in self.clients:
            c.disconnect()
        self.exps.runner.shutdown(wait=False)
        state = f"{self.transport}: statuses {self.statuses}; signals {self.exps.seen}"
        if self.error is not None:
            raise AssertionError(f"{self.error} ({state})")
        if not finished:
            raise AssertionError(f"not completed within {SCENARIO_TIMEOUT_S} s ({state})")


class CredentialProxy:
    """An HTTP proxy on 127.0.0.1 that asks for Basic credentials, as the
    suite's testProxy expects (user myuser, password mypassword): 407
    without them; with them, CONNECT opens a tunnel, and a request in
    absolute form (HTTP, or a WebSocket upgrade) goes to its origin, the
    connection then relayed both ways as it is. `authorized` counts the
    requests it let through."""

    USER = "myuser"
    PASSWORD = "mypassword"

    def __init__(self):
        self.authorized = 0
        self.refused = 0
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        started.wait()

    def _run(self, started):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    def _expected(self):
        token = base64.b64encode(f"{self.USER}:{self.PASSWORD}".encode()).decode()
        return f"Basic {token}"

    async def _serve(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = [line for line in lines[1:] if line]
        auth = [h.split(":", 1)[1].strip() for h in headers
                if h.lower().startswith("proxy-authorization:")]
        if auth != [self._expected()]:
            self.refused += 1
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"test\"\r\n"
                         b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        self.authorized += 1
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        else:
            url = urllib.parse.urlsplit(target)
            up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
            path = url.path + (f"?{url.query}" if url.query else "")
            kept = [h for h in headers if not h.lower().startswith(("proxy-authorization:",
                                                                    "proxy-connection:"))]
            up_writer.write(("\r\n".join([f"{method} {path} {version}", *kept]) + "\r\n\r\n")
                            .encode("latin-1"))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def close(self):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
