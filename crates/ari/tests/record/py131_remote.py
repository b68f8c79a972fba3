"""A remote adapter on the Python SDK 1.3.1 (ARI 1.8.3, one data connection),
driven by record.py. It logs what the SDK decoded from each request as JSON
lines on stdout, and answers as the request asks."""
import json
import sys
import threading

from lightstreamer_adapter.interfaces.data import DataProvider, SubscribeError, FailureError
from lightstreamer_adapter.interfaces.metadata import (
    MetadataProvider, AccessError, ItemsError, SchemaError, CreditsError,
    ConflictingSessionError, NotificationError, Mode)
from lightstreamer_adapter.server import MetadataProviderServer, DataProviderServer


def seen(what, value):
    print(json.dumps([what, value], default=str), flush=True)


def table(t):
    return [t.win_index, str(t.mode), t.group, t.schema, t.min, t.max, t.selector]


class Meta(MetadataProvider):
    def initialize(self, parameters, config_file=None):
        seen("MPI", parameters)

    def notify_user(self, user, password, http_headers):
        seen("NUS", [user, password, http_headers])
        if user == "denied":
            raise AccessError("Access denied")
        if user == "credits":
            raise CreditsError(-5, "no credits", "Sorry | 100%")

    def notify_user_with_principal(self, user, password, http_headers, client_principal=None):
        seen("NUA", [user, password, client_principal, http_headers])

    def get_allowed_max_bandwidth(self, user):
        return 0.0 if user != "bw" else 12.5

    def wants_tables_notification(self, user):
        return True

    def get_items(self, user, session_id, group):
        seen("GIS", [user, group, session_id])
        if group == "bad":
            raise ItemsError("Unknown group")
        return [] if group == "empty" else group.split(" ")

    def get_schema(self, user, session_id, group, schema):
        seen("GSC", [user, group, schema, session_id])
        if schema == "bad":
            raise SchemaError("Unknown schema")
        return schema.split(" ")

    def get_distinct_snapshot_length(self, item):
        return 10

    def get_min_source_frequency(self, item):
        return 0.0 if item == "item1" else 0.5

    def mode_may_be_allowed(self, item, mode):
        return item == "item1" or mode == Mode.MERGE

    def get_allowed_buffer_size(self, user, item):
        return 30

    def get_allowed_max_item_frequency(self, user, item):
        return 0.0 if item == "item1" else 2.25

    def ismode_allowed(self, user, item, mode):
        return item == "item1" or mode in (Mode.RAW, Mode.DISTINCT)

    def notify_user_message(self, user, session_id, message):
        seen("NUM", [user, session_id, message])
        if message == "fail":
            raise NotificationError("Refused")
        if message == "credits":
            raise CreditsError(-7, "no credits")

    def notify_new_session(self, user, session_id, client_context):
        seen("NNS", [user, session_id, client_context])
        if user == "conflict":
            raise ConflictingSessionError(-6, "Conflict", "S0000", "Too many")

    def notify_session_close(self, session_id):
        seen("NSC", session_id)

    def notify_new_tables(self, user, session_id, tables):
        seen("NNT", [user, session_id, [table(t) for t in tables]])

    def notify_tables_close(self, session_id, tables):
        seen("NTC", [session_id, [table(t) for t in tables]])


class Data(DataProvider):
    def initialize(self, parameters, config_file=None):
        seen("DPI", parameters)

    def set_listener(self, event_listener):
        self.listener = event_listener

    def issnapshot_available(self, item_name):
        return item_name == "item1"

    def subscribe(self, item_name):
        seen("SUB", item_name)
        if item_name == "bad":
            raise SubscribeError("no such item")
        if item_name == "failing":
            raise FailureError("adapter broke")
        threading.Timer(0.2, self.publish, [item_name]).start()

    def publish(self, item):
        if item == "item1":
            self.listener.update(item, {
                "plain": "12.5", "empty": "", "nothing": None, "hash": "#",
                "dollar": "$", "pipe": "a|b", "pct": "100%", "plus": "1+1",
                "crlf": "l1\r\nl2", "utf": "€ ü", "space": "a b",
                "bytes": b"\x00\xffbin"}, True)
            self.listener.end_of_snapshot(item)
            self.listener.update(item, {"plain": "12.6"}, False)
            self.listener.update(item, {"key": "k1", "command": "ADD", "qty": "1"}, False)
        else:
            self.listener.clear_snapshot(item)

    def unsubscribe(self, item_name):
        seen("USB", item_name)
        if item_name == "item1":
            self.listener.failure(Exception("feed lost"))


mport, dport = int(sys.argv[1]), int(sys.argv[2])
meta = MetadataProviderServer(Meta(), ("127.0.0.1", mport))
data = DataProviderServer(Data(), ("127.0.0.1", dport))
for server in (meta, data):
    server.remote_user = "ari-remote"
    server.remote_password = "pw"
    server.start()
threading.Event().wait()
