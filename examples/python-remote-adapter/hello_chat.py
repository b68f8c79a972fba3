#!/usr/bin/env python3
"""Hello world and a chat room, served by a remote adapter written with the
Lightstreamer SDK for Python adapters (PyPI lightstreamer-adapter 1.3.1).

Shoal runs the adapter set HELLO_PYTHON (adapters/HELLO_PYTHON/adapters.xml)
and waits for this process on two TCP ports, one per adapter.

Items:
  greetings  fields message timestamp: "Hello" and "world!" in turn, every second
  chat_room  fields user ip message timestamp: what clients send as
             messages "CHAT|<text>" (any other message is refused)
"""

import argparse
import os
import signal
import sys
import threading
import time

from lightstreamer_adapter.interfaces.data import DataProvider, SubscribeError
from lightstreamer_adapter.interfaces.metadata import (MetadataProvider,
                                                       NotificationError)
from lightstreamer_adapter.server import (DataProviderServer,
                                          MetadataProviderServer)


def now():
    return time.strftime("%H:%M:%S")


def say(text):
    """One line on stdout (the SDK calls us from several threads)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class HelloChatData(DataProvider):
    """The data adapter: greetings on a timer, chat lines on demand."""

    def __init__(self):
        self.listener = None
        self.subscribed = set()
        self.greeter = None

    def initialize(self, parameters, config_file=None):
        say("data adapter ready")

    def set_listener(self, event_listener):
        self.listener = event_listener

    def issnapshot_available(self, item_name):
        return False  # nothing to tell a new subscriber but what comes next

    def subscribe(self, item_name):
        if item_name not in ("greetings", "chat_room"):
            raise SubscribeError("no item called " + item_name)
        say("subscribed: " + item_name)
        self.subscribed.add(item_name)
        if item_name == "greetings":
            self.greeter = threading.Event()
            threading.Thread(target=self._greet, args=(self.greeter,),
                             daemon=True).start()

    def unsubscribe(self, item_name):
        say("unsubscribed: " + item_name)
        self.subscribed.discard(item_name)
        if item_name == "greetings" and self.greeter:
            self.greeter.set()

    def _greet(self, stop):
        words = ["Hello", "world!"]
        n = 0
        while not stop.is_set():
            self.listener.update("greetings", {"message": words[n % 2],
                                               "timestamp": now()}, False)
            n += 1
            stop.wait(1)

    def chat(self, user, ip, text):
        if "chat_room" in self.subscribed:
            self.listener.update("chat_room", {"user": user or "anonymous",
                                               "ip": ip, "message": text,
                                               "timestamp": now()}, False)


class HelloChatMetadata(MetadataProvider):
    """The metadata adapter: the SDK's defaults, plus chat messages."""

    def __init__(self, data):
        self.data = data
        self.ips = {}  # session id -> the client's IP address

    def initialize(self, parameters, config_file=None):
        say("metadata adapter ready")

    def notify_new_session(self, user, session_id, client_context):
        self.ips[session_id] = client_context.get("REMOTE_IP")

    def notify_session_close(self, session_id):
        self.ips.pop(session_id, None)

    def notify_user_message(self, user, session_id, message):
        kind, _, text = message.partition("|")
        if kind != "CHAT" or not text:
            raise NotificationError("expected CHAT|<text>")
        self.data.chat(user, self.ips.get(session_id), text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--metadata-port", type=int, default=6673)
    parser.add_argument("--data-port", type=int, default=6671)
    args = parser.parse_args()

    data = HelloChatData()
    metadata = HelloChatMetadata(data)
    MetadataProviderServer(metadata, (args.host, args.metadata_port)).start()
    DataProviderServer(data, (args.host, args.data_port)).start()
    say("connected to Shoal at {} (metadata port {}, data port {})".format(
        args.host, args.metadata_port, args.data_port))

    # The SDK's threads do not end by themselves: leave at once on a signal.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    threading.Event().wait()


if __name__ == "__main__":
    main()
