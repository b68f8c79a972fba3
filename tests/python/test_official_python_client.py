"""End-to-end tests of Shoal through the official Lightstreamer Python client
(PyPI lightstreamer-client-lib, pinned in requirements.txt), on all four
transports: MERGE quotes with snapshot, and a RAW counter without gaps.

Each test starts its own `shoal serve --listen 127.0.0.1:0` (SHOAL_BIN, by
default target/release/shoal) and stops it afterwards.
"""

import threading
import unittest

from lightstreamer.client import LightstreamerClient, Subscription

from shoal_server import Shoal

TRANSPORTS = ["WS-STREAMING", "HTTP-STREAMING", "WS-POLLING", "HTTP-POLLING"]


class Server(Shoal):
    def __init__(self):
        super().__init__(["--listen", "127.0.0.1:0"])


class Recorder:
    """Collects what the client reports; waits on a condition with a timeout."""

    def __init__(self):
        self.cond = threading.Condition()
        self.updates = []
        self.statuses = []
        self.errors = []

    def note(self, kind, value):
        with self.cond:
            getattr(self, kind).append(value)
            self.cond.notify_all()

    def wait(self, pred, what, timeout=15):
        with self.cond:
            if not self.cond.wait_for(lambda: pred(self), timeout=timeout):
                raise AssertionError(
                    f"timed out waiting for {what}; statuses {self.statuses}, "
                    f"errors {self.errors}, {len(self.updates)} updates")


class ClientListener:
    def __init__(self, rec):
        self.rec = rec

    def onStatusChange(self, status):
        self.rec.note("statuses", status)

    def onServerError(self, code, message):
        self.rec.note("errors", (code, message))


class SubListener:
    def __init__(self, rec, fields):
        self.rec = rec
        self.fields = fields

    def onItemUpdate(self, update):
        values = {f: update.getValue(f) for f in self.fields}
        self.rec.note("updates", (update.getItemName(), update.isSnapshot(), values))

    def onSubscriptionError(self, code, message):
        self.rec.note("errors", (code, message))


class OfficialPythonClient(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.disconnect()
        self.server.stop()
        if any("panicked" in line for line in self.server.stderr):
            self.fail("the server panicked:\n" + "".join(self.server.stderr[-40:]))

    def connect(self, transport, rec):
        c = LightstreamerClient(self.server.url, "DEMO")
        c.connectionOptions.setForcedTransport(transport)
        c.addListener(ClientListener(rec))
        self.clients.append(c)
        return c

    def test_quotes_with_snapshot(self):
        fields = ["stock_name", "last_price"]
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                rec = Recorder()
                c = self.connect(transport, rec)
                sub = Subscription("MERGE", ["item1", "item2", "item3"], fields)
                sub.setDataAdapter("QUOTE_ADAPTER")
                sub.setRequestedSnapshot("yes")
                sub.addListener(SubListener(rec, fields))
                c.subscribe(sub)
                c.connect()
                rec.wait(lambda r: f"CONNECTED:{transport}" in r.statuses, f"CONNECTED:{transport}")
                rec.wait(lambda r: {u[0] for u in r.updates if u[1]} == {"item1", "item2", "item3"},
                         "a snapshot of each item")
                rec.wait(lambda r: any(not u[1] for u in r.updates), "a live update")
                for item, _, values in rec.updates:
                    self.assertTrue(values["stock_name"], f"{item} has a name")
                    self.assertGreater(float(values["last_price"]), 0, f"{item} price")
                self.assertEqual(rec.errors, [])

    def test_counter_without_gaps(self):
        fields = ["seq", "ts"]
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                rec = Recorder()
                c = self.connect(transport, rec)
                sub = Subscription("RAW", ["rate-50"], fields)
                sub.setDataAdapter("COUNTER")
                sub.addListener(SubListener(rec, fields))
                c.subscribe(sub)
                c.connect()
                rec.wait(lambda r: len(r.updates) >= 100, "100 counter updates")
                seqs = [int(u[2]["seq"]) for u in rec.updates]
                steps = {b - a for a, b in zip(seqs, seqs[1:])}
                self.assertEqual(steps, {1}, f"seq must go up by one: {seqs[:20]}...")


if __name__ == "__main__":
    unittest.main()
