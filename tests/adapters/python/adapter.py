#!/usr/bin/env python3
"""Shoal's test remote adapter on the Python SDK (PyPI lightstreamer-adapter
1.3.1, ARI 1.8.3, one connection per adapter). One process runs the metadata
adapter and the DEFAULT data adapter of one adapter set, with the items,
messages and users of tests/adapters/README.md (the same as the Node adapter).

    python adapter.py --metadata-port 6663 --data-port 6661 [--host 127.0.0.1]
                      [--user U --password P] [--tls --ca ca.pem] [--name LABEL]

It logs what it does on stderr, one line per event, and exits with 0 on
SIGTERM, 2 when the server closed it with an ARI CLOSE (e.g. wrong
credentials), 1 when a connection failed (the SDK's own exit).
"""

import argparse
import json
import logging
import os
import signal
import ssl
import sys
import threading
import time
from datetime import datetime, timezone

from lightstreamer_adapter.interfaces.data import DataProvider, SubscribeError
from lightstreamer_adapter.interfaces.metadata import (
    AccessError, CreditsError, ItemsError, MetadataProvider, Mode,
    NotificationError, SchemaError)
from lightstreamer_adapter.server import (DataProviderServer,
                                          MetadataProviderServer)

NAME = "python"
_log_lock = threading.Lock()


def log(text):
    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    with _log_lock:
        sys.stderr.write("[{} {}] {}\n".format(NAME, stamp, text))
        sys.stderr.flush()


_exiting = threading.Event()


def leave(code, why):
    """Ends the process at once (the SDK's threads are not daemons)."""
    if _exiting.is_set():
        return
    _exiting.set()
    log("exiting ({}): {}".format(code, why))
    os._exit(code)


def js(value):
    return json.dumps(value, separators=(",", ":"))


class Seen:
    """What the metadata adapter saw, per user; published as seen_<user>."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_user = {}
        self.session_user = {}
        self.data = None

    def _of(self, user):
        return self.by_user.setdefault(user, {"nus": None, "nns": None,
                                              "closed": []})

    def fields(self, user):
        with self.lock:
            s = self._of(user)
            return {"nus": js(s["nus"]), "nns": js(s["nns"]),
                    "closed": js(s["closed"])}

    def record(self, user, key, value):
        with self.lock:
            s = self._of(user)
            if key == "closed":
                s["closed"].append(value)
            else:
                s[key] = value
        self.data.publish("seen_%s" % user, self.fields(user))


class Paced(threading.Thread):
    """Calls emit(n) for n = 1, 2, ... at `per_second`, catching up when late."""

    def __init__(self, per_second, emit):
        super().__init__(daemon=True)
        self.per_second = per_second
        self.emit = emit
        self.stopped = threading.Event()

    def run(self):
        started = time.monotonic()
        sent = 0
        pause = 0.005 if self.per_second > 100 else max(0.005, 0.5 / self.per_second)
        while not self.stopped.wait(pause):
            due = int((time.monotonic() - started) * self.per_second)
            while sent < due and not self.stopped.is_set():
                sent += 1
                self.emit(sent)

    def stop(self):
        self.stopped.set()


SNAPSHOT_PREFIXES = ("stock_", "portfolio_", "news_", "board_", "seen_")


class TestDataAdapter(DataProvider):
    def __init__(self, seen):
        self.listener = None
        self.seen = seen
        self.lock = threading.RLock()
        self.subscribed = {}  # item -> stop function
        self.portfolios = {}  # item -> {key: qty}
        self.news = {}  # item -> [(seq, headline)]
        self.boards = {}  # item -> value or None (cleared)

    def initialize(self, parameters, config_file=None):
        log("INIT data " + js(parameters))

    def set_listener(self, event_listener):
        self.listener = event_listener

    def issnapshot_available(self, item_name):
        return item_name.startswith(SNAPSHOT_PREFIXES)

    def update(self, item, fields, snapshot=False):
        self.listener.update(item, fields, snapshot)

    def publish(self, item, fields):
        with self.lock:
            if item in self.subscribed:
                self.update(item, fields)

    def _stock(self, item):
        name = item[len("stock_"):]
        state = {"price": 100.0, "seq": 0}

        def record():
            price = state["price"]
            # stock_name goes as bytes: the SDK sends them base64 ("Y" type).
            return {"stock_name": name.encode("utf-8"), "last_price": "%.2f" % price,
                    "time": time.strftime("%H:%M:%S", time.gmtime()),
                    "pct_change": "%.2f" % (price - 100),
                    "bid": "%.2f" % (price - 0.05),
                    "ask": "%.2f" % (price + 0.05), "seq": str(state["seq"])}

        self.update(item, record(), True)

        def tick(_):
            state["seq"] += 1
            step = (state["seq"] * 7919) % 11
            state["price"] = max(1.0, state["price"] + step / 10 - 0.5)
            self.update(item, record())

        feed = Paced(10, tick)
        feed.start()
        return feed.stop

    def _counter(self, item, rate):
        feed = Paced(rate, lambda seq: self.update(
            item, {"seq": str(seq), "ts": str(int(time.time() * 1000))}))
        feed.start()
        return feed.stop

    def _portfolio(self, item):
        rows = self.portfolios.setdefault(item, {"base": 1})
        for key, qty in rows.items():
            self.update(item, {"key": key, "command": "ADD", "qty": str(qty)}, True)
        self.listener.end_of_snapshot(item)
        return lambda: None

    def _news(self, item):
        history = self.news.setdefault(
            item, [(n, "headline %d" % n) for n in (1, 2, 3)])
        for seq, headline in history:
            self.update(item, {"seq": str(seq), "headline": headline}, True)
        self.listener.end_of_snapshot(item)
        return lambda: None

    def _board(self, item):
        value = self.boards.setdefault(item, "v0")
        if value is not None:
            self.update(item, {"value": value}, True)
        else:
            self.listener.end_of_snapshot(item)
        return lambda: None

    def _seen(self, item):
        self.update(item, self.seen.fields(item[len("seen_"):]), True)
        return lambda: None

    def subscribe(self, item_name):
        start = None
        for prefix in ("counter_", "rawonly_"):
            if item_name.startswith(prefix):
                rate = item_name[len(prefix):]
                if rate.isdigit() and 1 <= int(rate) <= 5000:
                    start = lambda: self._counter(item_name, int(rate))
        for prefix, fn in (("stock_", self._stock),
                           ("portfolio_", self._portfolio),
                           ("news_", self._news), ("board_", self._board),
                           ("seen_", self._seen)):
            if item_name.startswith(prefix):
                start = lambda fn=fn: fn(item_name)
        if start is None:
            log("SUB {}: refused (no such item)".format(item_name))
            raise SubscribeError("no such item: " + item_name)
        log("SUB " + item_name)
        # The SDK already knows the item (its snapshot may precede the reply).
        with self.lock:
            self.subscribed[item_name] = lambda: None
            self.subscribed[item_name] = start()

    def unsubscribe(self, item_name):
        log("USB " + item_name)
        with self.lock:
            stop = self.subscribed.pop(item_name, None)
        if stop:
            stop()

    # Client messages drive the items (see README.md).
    def on_message(self, text):
        op, *args = text.split("|")
        if op == "ECHO":
            return
        if op == "FAIL":
            raise CreditsError(int(args[0]), "message refused", "|".join(args[1:]))
        if op == "REJECT":
            raise NotificationError("|".join(args))
        with self.lock:
            if op in ("ADD", "UPDATE", "DELETE"):
                item, key = args[0], args[1]
                rows = self.portfolios.setdefault(item, {"base": 1})
                if op == "DELETE":
                    rows.pop(key, None)
                    qty = None
                else:
                    qty = args[2]
                    rows[key] = int(qty)
                self.publish(item, {"key": key, "command": op, "qty": qty})
            elif op == "NEWS":
                item, headline = args[0], args[1]
                history = self.news.setdefault(item, [])
                seq = len(history) + 1
                history.append((seq, headline))
                self.publish(item, {"seq": str(seq), "headline": headline})
            elif op == "SET":
                self.boards[args[0]] = args[1]
                self.publish(args[0], {"value": args[1]})
            elif op == "CLEAR":
                self.boards[args[0]] = None
                if args[0] in self.subscribed:
                    self.listener.clear_snapshot(args[0])
            else:
                raise NotificationError("unknown message " + op)


class TestMetadataAdapter(MetadataProvider):
    def __init__(self, data, seen):
        self.data = data
        self.seen = seen

    def initialize(self, parameters, config_file=None):
        log("INIT metadata " + js(parameters))

    def notify_user(self, user, password, http_headers):
        log("NUS user={} headers={}".format(js(user), js(http_headers)))
        self.seen.record(user, "nus", {"user": user, "password": password,
                                       "headers": http_headers})
        if user == "refused":
            raise AccessError("refused by the test adapter")
        if user == "nocredit":
            raise CreditsError(-42, "no credits left", "Out of credits")

    def notify_user_with_principal(self, user, password, http_headers,
                                   client_principal=None):
        self.notify_user(user, password, http_headers)

    def notify_new_session(self, user, session_id, client_context):
        log("NNS user={} session={} context={}".format(
            js(user), session_id, js(client_context)))
        with self.seen.lock:
            self.seen.session_user[session_id] = user
        self.seen.record(user, "nns", {"session": session_id,
                                       "context": client_context})

    def notify_session_close(self, session_id):
        with self.seen.lock:
            user = self.seen.session_user.get(session_id)
        log("NSC session={} user={}".format(session_id, js(user)))
        if user is not None:
            self.seen.record(user, "closed", session_id)

    def get_items(self, user, session_id, group):
        items = group.split(" ")
        bad = [i for i in items if i.startswith("bad")]
        if bad:
            log("GIS {}: refused".format(group))
            raise ItemsError("no such item: " + bad[0])
        return items

    def get_schema(self, user, session_id, group, schema):
        fields = schema.split(" ")
        bad = [f for f in fields if f.startswith("bad")]
        if bad:
            log("GSC {}: refused".format(schema))
            raise SchemaError("no such field: " + bad[0])
        return fields

    def mode_may_be_allowed(self, item, mode):
        return mode == Mode.RAW or not item.startswith("rawonly_")

    def get_distinct_snapshot_length(self, item):
        return 10 if item.startswith("news_") else 0

    def notify_user_message(self, user, session_id, message):
        log("NUM user={} session={} message={}".format(js(user), session_id,
                                                       js(message)))
        self.data.on_message(message)


def main():
    global NAME
    parser = argparse.ArgumentParser(description="Shoal's test remote adapter")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--metadata-port", type=int, required=True)
    parser.add_argument("--data-port", type=int, required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--ca", help="PEM file of the CA that signed the server certificate")
    parser.add_argument("--name", default="python")
    args = parser.parse_args()
    NAME = args.name
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="[" + NAME + " sdk] %(levelname)s %(name)s: %(message)s")

    context = None
    if args.tls:
        context = ssl.create_default_context(cafile=args.ca)

    seen = Seen()
    data = TestDataAdapter(seen)
    seen.data = data
    metadata = TestMetadataAdapter(data, seen)
    servers = [
        MetadataProviderServer(metadata, (args.host, args.metadata_port),
                               name="metadata", ssl_context=context),
        DataProviderServer(data, (args.host, args.data_port), name="data",
                           ssl_context=context),
    ]
    for server in servers:
        if args.user is not None:
            server.remote_user = args.user
            server.remote_password = args.password or ""
        # The SDK's close() runs on a CLOSE from the server and then waits
        # forever: leave instead, telling why.
        original = server.close

        def closed(server=server, original=original):
            log("{}: server sent CLOSE".format(server.name))
            try:
                original()
            finally:
                leave(2, "{}: server sent CLOSE".format(server.name))
        server.close = closed

    signal.signal(signal.SIGTERM, lambda *_: leave(0, "SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: leave(0, "SIGINT"))
    log("dialing {}: metadata {}, data {}{}{}".format(
        args.host, args.metadata_port, args.data_port,
        ", TLS" if args.tls else "",
        ", as " + args.user if args.user is not None else ""))
    for server in servers:
        try:
            server.start()
        except Exception as err:  # refused connection, TLS failure...
            cause = err.__cause__ or err
            leave(1, "{}: cannot connect: {}".format(server.name, cause))
        log("connected {} to {}://{}:{}".format(
            server.name, "tls" if args.tls else "tcp", args.host,
            args.metadata_port if server.name == "metadata" else args.data_port))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
