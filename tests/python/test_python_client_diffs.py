"""Diff-encoded values (`^P` JSON Patch, `^T` TLCP-diff) through the official
Python client (PyPI lightstreamer-client-lib, pinned in requirements.txt).

A `shoal.memory` data adapter declares `doc` as JSONPATCH and `text` as
DIFF_MATCH_PATCH (`diff_fields`); the test publishes a known sequence of
values with `POST /publish` and the client must see each one exactly as
published. A TCP tap between client and server counts the `^P` and `^T`
tokens really sent, which must be those docs/protocol.md allows. The same
sequence as tests/clients/test/diff.test.js (the Node client).
"""

import json
import re
import socket
import tempfile
import threading
import unittest
import urllib.request
from pathlib import Path

from lightstreamer.client import LightstreamerClient, Subscription

from shoal_server import Shoal
from test_official_python_client import ClientListener, Recorder

SET = "DIFFS"
FIELDS = ["n", "doc", "text"]
STEPS = 14
TOKEN = "diff-token"

ADAPTERS_XML = f"""<?xml version="1.0"?>
<adapters_conf id="{SET}">
  <metadata_provider>
    <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>
  </metadata_provider>
  <data_provider name="DEFAULT">
    <adapter_class>shoal.memory</adapter_class>
    <param name="publish_token">{TOKEN}</param>
    <param name="diff_fields">doc=JSONPATCH text=DIFF_MATCH_PATCH</param>
  </data_provider>
</adapters_conf>
"""


def doc(k):
    """The order book of step k, as JavaScript's JSON.stringify writes it.
    Step 6 is not JSON, step 9 has a character outside ASCII."""
    if k == 6:
        return "book closed {"
    levels = [{"px": 100 + i + 0.25, "qty": 1000 + k if i == k % 20 else 10 * i} for i in range(20)]
    d = {"symbol": "ACME", "seq": k, "levels": levels}
    if k == 9:
        d["note"] = "caf\u00e9"
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def text(k):
    """A long sentence; steps 4 and 5 have a character outside the Basic
    Multilingual Plane, step 10 is null."""
    if k == 10:
        return None
    emoji = " \U0001F600" if k in (4, 5) else ""
    return f"The quick brown fox jumps over the lazy dog, step {k} of a long run of updates{emoji}."


def canonical_json(v):
    return v is not None and v.startswith("{") and all(0x20 <= ord(c) <= 0x7E for c in v)


def bmp_text(v):
    return v is not None and all(ord(c) <= 0xFFFF for c in v)


def expected_diffs():
    p = sum(1 for k in range(2, STEPS + 1) if canonical_json(doc(k - 1)) and canonical_json(doc(k)))
    t = sum(1 for k in range(2, STEPS + 1) if bmp_text(text(k - 1)) and bmp_text(text(k)))
    return p, t


class Tap:
    """A TCP proxy that keeps what the server sends."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.received = bytearray()
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src, dst, keep):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if keep:
                    with self.lock:
                        self.received += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def text(self):
        with self.lock:
            return self.received.decode("latin-1")

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


class DiffListener:
    def __init__(self, rec):
        self.rec = rec

    def onItemUpdate(self, update):
        values = {f: update.getValue(f) for f in FIELDS}
        patch = update.getValueAsJSONPatchIfAvailable("doc")
        self.rec.note("updates", (values, patch is not None))

    def onSubscription(self):
        self.rec.note("statuses", "SUBSCRIBED")

    def onSubscriptionError(self, code, message):
        self.rec.note("errors", (code, message))


class PythonClientDiffs(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        (Path(self.dir.name) / SET).mkdir()
        (Path(self.dir.name) / SET / "adapters.xml").write_text(ADAPTERS_XML)
        self.shoal = Shoal(["--listen", "127.0.0.1:0", "--adapters-dir", self.dir.name])
        self.url = self.shoal.url
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))
        self.clients = []
        self.taps = []

    def tearDown(self):
        for c in self.clients:
            c.disconnect()
        for t in self.taps:
            t.close()
        self.shoal.stop()
        self.dir.cleanup()

    def publish(self, item, fields):
        body = json.dumps({"adapter_set": SET, "item": item, "fields": fields}).encode()
        req = urllib.request.Request(
            self.url.rstrip("/") + "/publish", data=body, method="POST",
            headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.status, 200)

    def test_values_are_exact_and_diffs_go_where_allowed(self):
        want_p, want_t = expected_diffs()
        self.assertGreaterEqual(min(want_p, want_t), 8)
        for transport in ["WS-STREAMING", "HTTP-STREAMING"]:
            with self.subTest(transport=transport):
                tap = Tap(self.port)
                self.taps.append(tap)
                rec = Recorder()
                c = LightstreamerClient(f"http://127.0.0.1:{tap.port}", SET)
                c.connectionOptions.setForcedTransport(transport)
                c.addListener(ClientListener(rec))
                self.clients.append(c)
                # A new item per transport: its first value is the first the
                # client gets.
                item = f"book-{transport.lower()}"
                sub = Subscription("MERGE", [item], FIELDS)
                sub.setRequestedSnapshot("no")
                sub.addListener(DiffListener(rec))
                c.subscribe(sub)
                c.connect()
                rec.wait(lambda r: f"CONNECTED:{transport}" in r.statuses, f"CONNECTED:{transport}")
                rec.wait(lambda r: "SUBSCRIBED" in r.statuses, "onSubscription")
                for k in range(1, STEPS + 1):
                    self.publish(item, {"n": str(k), "doc": doc(k), "text": text(k)})
                    rec.wait(lambda r, k=k: any(u[0]["n"] == str(k) for u in r.updates), f"step {k}")
                    values = next(u[0] for u in rec.updates if u[0]["n"] == str(k))
                    self.assertEqual(values["doc"], doc(k), f"doc at step {k}")
                    self.assertEqual(values["text"], text(k), f"text at step {k}")
                self.assertEqual(rec.errors, [])
                patched = sum(1 for _, p in rec.updates if p)
                self.assertEqual(patched, want_p, "patches the client applied")
                if transport == "WS-STREAMING":
                    wire = tap.text()
                    sent_p = len(re.findall(r"[,|]\^P\[", wire))
                    sent_t = len(re.findall(r"[,|]\^T[A-Za-z]", wire))
                    self.assertEqual((sent_p, sent_t), (want_p, want_t))


if __name__ == "__main__":
    unittest.main()
