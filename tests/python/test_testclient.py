"""The official clients' own suite (TestClient of the Haxe client library,
which the Python client lightstreamer-client-lib is built from), through the
official Python client, against Shoal's TEST adapter set
(`shoal serve --test-adapters`). Each scenario runs on the four transports
at once and asserts what upstream's does; docs/protocol.md ("The official
clients' suite") has the table. The harness is in testclient_harness.py.

testProxy goes through CredentialProxy, an HTTP proxy asking for the
suite's credentials. Listed, not run: testOnlineServer (Lightstreamer's
public demo server, not Shoal).
"""

import concurrent.futures
import json
import re
import unittest
import warnings

from lightstreamer.client import (ClientListener, ClientMessageListener, LightstreamerClient, Proxy,
                                  Subscription, SubscriptionListener)

from testclient_harness import (SERVER_NAME, TRANSPORTS, CredentialProxy, Scenario, Server,
                                listener)

# The client's defaults, which the round trip checks.
DEFAULT_CONTENT_LENGTH = 50000000
DEFAULT_RETRY_DELAY_MS = 4000
DEFAULT_RECOVERY_TIMEOUT_MS = 15000
# What the TEST metadata adapter answers "throw me an error" with.
ERROR_CODE = -123
ERROR_TEXT = "test error"
GLOBE = "\U0001F310"
GLOBES = 1680
LONG_MESSAGE = json.dumps({
    "n": "MESSAGE_SEND",
    "c": {"u": "GEiIxthxD-1gf5Tk5O1NTw", "s": "S29120e92e162c244T2004863",
          "p": "localhost:3000/html/widget-responsive.html", "t": "2017-08-08T10:20:05.665Z"},
    "d": json.dumps({"p": GLOBE * GLOBES}, separators=(",", ":"), ensure_ascii=False),
}, separators=(",", ":"), ensure_ascii=False)

SERVER = None
PROXY = None


def setUpModule():
    global SERVER, PROXY
    # The client library passes credentials to aiohttp in a form aiohttp
    # 3.14 calls deprecated: its warnings, not this suite's.
    warnings.filterwarnings("ignore", message=".*(BasicAuth|proxy_auth).*",
                            category=DeprecationWarning)
    SERVER = Server()
    PROXY = CredentialProxy()


def tearDownModule():
    PROXY.close()
    SERVER.stop()
    if any("panicked" in line for line in SERVER.stderr):
        raise AssertionError("the server panicked:\n" + "".join(SERVER.stderr[-40:]))


def count_subscription(mode="MERGE"):
    sub = Subscription(mode, ["count"], ["count"])
    sub.setDataAdapter("COUNT")
    return sub


# ---- the scenarios, as upstream's _testXxx(async) --------------------------

def connect(x):
    client = x.client()
    expected = "CONNECTED:" + x.transport

    def on_status(status):
        if status == expected:
            x.equals(expected, client.getStatus())
            x.completed()
    client.addListener(listener(ClientListener, onStatusChange=on_status))
    client.connect()


def error(x):
    client = x.client("XXX")

    def on_error(code, msg):
        x.equals("2 Requested Adapter Set not available", f"{code} {msg}")
        x.completed()
    client.addListener(listener(ClientListener, onServerError=on_error))
    client.connect()


def disconnect(x):
    client = x.client()

    def on_status(status):
        if status == "CONNECTED:" + x.transport:
            client.disconnect()
        elif status == "DISCONNECTED":
            x.equals("DISCONNECTED", client.getStatus())
            x.completed()
    client.addListener(listener(ClientListener, onStatusChange=on_status))
    client.connect()


def bandwidth(x):
    client = x.client()
    options = client.connectionOptions

    def on_prop(prop):
        if prop == "realMaxBandwidth":
            x.exps.signal(f"realMaxBandwidth={options.getRealMaxBandwidth()}")
    client.addListener(listener(ClientListener, onPropertyChange=on_prop))
    x.equals("unlimited", options.getRequestedMaxBandwidth())
    (x.exps
     .then(client.connect)
     .await_("realMaxBandwidth=40")
     .then(lambda: options.setRequestedMaxBandwidth("20.1"))
     .await_("realMaxBandwidth=20.1")
     .then(lambda: options.setRequestedMaxBandwidth("70.1"))
     .await_("realMaxBandwidth=40")
     .then(lambda: options.setRequestedMaxBandwidth("39"))
     .await_("realMaxBandwidth=39")
     .then(lambda: options.setRequestedMaxBandwidth("unlimited"))
     .await_("realMaxBandwidth=40")
     .then(x.completed)
     .verify())


def round_trip(x):
    client = x.client()
    details = client.connectionDetails
    options = client.connectionOptions
    x.equals("TEST", details.getAdapterSet())
    x.equals(x.url, details.getServerAddress())
    x.equals(DEFAULT_CONTENT_LENGTH, options.getContentLength())
    x.equals(DEFAULT_RETRY_DELAY_MS, options.getRetryDelay())
    x.equals(DEFAULT_RECOVERY_TIMEOUT_MS, options.getSessionRecoveryTimeout())
    sub = count_subscription()
    x.equals("COUNT", sub.getDataAdapter())
    x.equals("MERGE", sub.getMode())
    sub.addListener(listener(
        SubscriptionListener,
        onSubscription=lambda: x.exps.signal("onSubscription"),
        onItemUpdate=lambda _u: x.exps.signal("onItemUpdate"),
        onUnsubscription=lambda: x.exps.signal("onUnsubscription"),
        onRealMaxFrequency=lambda f: x.exps.signal(f"onRealMaxFrequency {f}")))
    signals = {
        "sessionId": lambda: "sessionId: " + ("null" if details.getSessionId() is None else "not null"),
        "clientIp": lambda: f"clientIp: {none_as_null(details.getClientIp())}",
        "serverSocketName": lambda: f"serverSocketName: {none_as_null(details.getServerSocketName())}",
        "realMaxBandwidth": lambda: f"realMaxBandwidth: {none_as_null(options.getRealMaxBandwidth())}",
    }

    def on_prop(prop):
        if prop in signals:
            x.exps.signal(signals[prop]())
    client.addListener(listener(ClientListener, onPropertyChange=on_prop))
    (x.exps
     .then(client.connect)
     .then(lambda: client.subscribe(sub))
     .await_("sessionId: not null")
     .await_(f"serverSocketName: {SERVER_NAME}")
     .await_("clientIp: 127.0.0.1")
     .await_("realMaxBandwidth: 40")
     .await_("onSubscription")
     .await_("onRealMaxFrequency unlimited")
     .await_("onItemUpdate")
     .then(lambda: client.unsubscribe(sub))
     .await_("onUnsubscription")
     .then(client.disconnect)
     .await_("sessionId: null")
     .await_("serverSocketName: null")
     .await_("clientIp: null")
     .await_("realMaxBandwidth: null")
     .then(x.completed)
     .verify())


def none_as_null(value):
    """A value as the Haxe suite prints it: None is null."""
    return "null" if value is None else value


def headers(x):
    client = x.client()

    def start():
        client.connectionOptions.setHttpExtraHeaders({"hello": "header"})

        def on_status(status):
            if status == "CONNECTED:" + x.transport:
                x.exps.signal("connected")
        client.addListener(listener(ClientListener, onStatusChange=on_status))
        client.connect()
    (x.exps
     .then(start)
     .await_("connected")
     .then(lambda: x.equals("header", client.connectionOptions.getHttpExtraHeaders()["hello"]))
     .then(x.completed)
     .verify())


def proxy(x):
    client = x.client()

    def start():
        client.connectionOptions.setProxy(
            Proxy("HTTP", "127.0.0.1", PROXY.port, CredentialProxy.USER, CredentialProxy.PASSWORD))

        def on_status(status):
            if status == "CONNECTED:" + x.transport:
                x.exps.signal("connected")
        client.addListener(listener(ClientListener, onStatusChange=on_status))
        client.connect()
    x.exps.then(start).await_("connected").then(x.completed).verify()


def subscribe(x):
    client = x.client()
    sub = count_subscription()

    def on_sub():
        x.is_true(sub.isSubscribed())
        x.completed()
    sub.addListener(listener(SubscriptionListener, onSubscription=on_sub))
    client.subscribe(sub)
    subs = client.getSubscriptions()
    x.equals(1, len(subs))
    x.is_true(sub is subs[0] or sub == subs[0])
    client.connect()


def subscribe_empty_group(x):
    client = x.client()
    sub = Subscription("MERGE", ["empty_group"], ["count"])
    sub.setDataAdapter("COUNT")

    def on_error(code, msg):
        # The server's table has no items: the client's own error 61.
        x.equals(61, code)
        x.equals("Expected 1 items but got 0", msg)
        x.completed()
    sub.addListener(listener(SubscriptionListener, onSubscriptionError=on_error))
    client.subscribe(sub)
    client.connect()


def subscription_error(x):
    client = x.client()
    sub = count_subscription("RAW")

    def on_error(code, msg):
        x.equals("24 Invalid mode for these items", f"{code} {msg}")
        x.completed()
    sub.addListener(listener(SubscriptionListener, onSubscriptionError=on_error))
    client.subscribe(sub)
    client.connect()


def subscribe_command(x):
    client = x.client()
    sub = Subscription("COMMAND", ["mult_table"], ["key", "value1", "value2", "command"])
    sub.setDataAdapter("MULT_TABLE")

    def on_sub():
        x.is_true(sub.isSubscribed())
        x.equals(1, sub.getKeyPosition())
        x.equals(4, sub.getCommandPosition())
        x.completed()
    sub.addListener(listener(SubscriptionListener, onSubscription=on_sub))
    client.subscribe(sub)
    client.connect()


def subscribe_command_2_level(x):
    client = x.client()
    sub = Subscription("COMMAND", ["two_level_command_count" + x.transport], ["key", "command"])
    sub.setDataAdapter("TWO_LEVEL_COMMAND")
    sub.setCommandSecondLevelDataAdapter("COUNT")
    sub.setCommandSecondLevelFields(["count"])

    def on_sub():
        x.is_true(sub.isSubscribed())
        x.equals(1, sub.getKeyPosition())
        x.equals(2, sub.getCommandPosition())

    def on_update(update):
        val = update.getValue("count") or ""
        key = update.getValue("key") or ""
        cmd = update.getValue("command") or ""
        if re.search(r"\d+", val) and key == "count" and cmd == "UPDATE":
            x.completed()
    sub.addListener(listener(SubscriptionListener, onSubscription=on_sub, onItemUpdate=on_update))
    client.subscribe(sub)
    subs = client.getSubscriptions()
    x.equals(1, len(subs))
    x.is_true(sub is subs[0] or sub == subs[0])
    client.connect()


def unsubscribe(x):
    client = x.client()
    sub = count_subscription()

    def on_sub():
        x.is_true(sub.isSubscribed())
        client.unsubscribe(sub)

    def on_unsub():
        x.equals(False, sub.isSubscribed())
        x.equals(False, sub.isActive())
        x.completed()
    sub.addListener(listener(SubscriptionListener, onSubscription=on_sub, onUnsubscription=on_unsub))
    client.subscribe(sub)
    client.connect()


def subscribe_non_ascii(x):
    client = x.client()
    sub = Subscription("MERGE", ["strange:àìùòlè"], ["value\U0001F310-", "value&+=\r\n%"])
    sub.setDataAdapter("STRANGE_NAMES")

    def on_sub():
        x.is_true(sub.isSubscribed())
        x.completed()
    sub.addListener(listener(SubscriptionListener, onSubscription=on_sub))
    client.subscribe(sub)
    client.connect()


def clear_snapshot(x):
    client = x.client()
    sub = Subscription("DISTINCT", ["clear_snapshot"], ["dummy"])
    sub.setDataAdapter("CLEAR_SNAPSHOT")

    def on_clear(name, pos):
        x.equals("clear_snapshot", name)
        x.equals(1, pos)
        x.completed()
    sub.addListener(listener(SubscriptionListener, onClearSnapshot=on_clear))
    client.subscribe(sub)
    client.connect()


def end_of_snapshot(x):
    client = x.client()
    sub = Subscription("DISTINCT", ["end_of_snapshot"], ["value"])
    sub.setRequestedSnapshot("yes")
    sub.setDataAdapter("END_OF_SNAPSHOT")

    def on_eos(name, pos):
        x.equals("end_of_snapshot", name)
        x.equals(1, pos)
        x.completed()
    sub.addListener(listener(SubscriptionListener, onEndOfSnapshot=on_eos))
    client.subscribe(sub)
    client.connect()


def overflow(x):
    client = x.client()
    sub = Subscription("MERGE", ["overflow"], ["value"])
    sub.setRequestedSnapshot("yes")
    sub.setDataAdapter("OVERFLOW")
    sub.setRequestedMaxFrequency("unfiltered")

    def on_lost(name, pos, _lost):
        x.equals("overflow", name)
        x.equals(1, pos)
        client.unsubscribe(sub)
    sub.addListener(listener(SubscriptionListener, onItemLostUpdates=on_lost,
                             onUnsubscription=x.completed))
    client.subscribe(sub)
    client.connectionOptions.setRequestedMaxBandwidth("10")
    client.connect()


def frequency(x):
    client = x.client()
    sub = count_subscription()

    def on_freq(freq):
        x.equals("unlimited", freq)
        x.completed()
    sub.addListener(listener(SubscriptionListener, onRealMaxFrequency=on_freq))
    client.subscribe(sub)
    client.connect()


def change_frequency(x):
    client = x.client()
    sub = count_subscription()
    sub.addListener(listener(SubscriptionListener,
                             onRealMaxFrequency=lambda f: x.exps.signal(f"frequency={f}")))
    sub.setRequestedMaxFrequency("unlimited")
    client.subscribe(sub)
    client.connect()
    (x.exps
     .await_("frequency=unlimited")
     .then(lambda: sub.setRequestedMaxFrequency("2.5"))
     .await_("frequency=2.5")
     .then(lambda: sub.setRequestedMaxFrequency("unlimited"))
     .await_("frequency=unlimited")
     .then(x.completed)
     .verify())


def check_second_update(x, data_adapter, check):
    # A MERGE subscription to `count` of `data_adapter`, without snapshot:
    # check(update) on its second update (the first that can be a diff of
    # the one before), then the scenario completes.
    client = x.client()
    updates = []
    sub = Subscription("MERGE", ["count"], ["count"])
    sub.setRequestedSnapshot("no")
    sub.setDataAdapter(data_adapter)

    def on_update(update):
        updates.append(update)
        if len(updates) != 2:
            return
        check(update)
        x.completed()
    sub.addListener(listener(SubscriptionListener, onItemUpdate=on_update))
    client.subscribe(sub)
    client.connect()


def json_patch(x):
    # JSON_COUNT declares its field JSONPATCH: the second update came as a
    # JSON Patch replacing /value, and the value is JSON with a value member.
    def check(update):
        patch = update.getValueAsJSONPatchIfAvailable(1)
        if isinstance(patch, str):
            patch = json.loads(patch)
        x.is_true(isinstance(patch, list) and len(patch) > 0, f"a patch: {patch!r}")
        x.equals("replace", patch[0]["op"])
        x.equals("/value", patch[0]["path"])
        x.is_true(patch[0].get("value") is not None, "the patch has a value")
        x.is_true(json.loads(update.getValue(1)).get("value") is not None, "value.value")
    check_second_update(x, "JSON_COUNT", check)


def diff_patch(x):
    # DIFF_COUNT declares its field DIFF_MATCH_PATCH: the second update reads
    # value=<number> (the client shows no sign of a TLCP-diff; that the
    # server sends ^T is test_python_client_diffs.py's and the engine's).
    def check(update):
        value = update.getValue(1)
        x.is_true(re.search(r"value=\d+", value or "") is not None, f"value: {value!r}")
        # Beyond upstream: decoded to the text the adapter published.
        x.is_true(re.fullmatch(r"value=\d+; .*as a diff", value or "") is not None,
                  f"value: {value!r}")
    check_second_update(x, "DIFF_COUNT", check)


def message(x):
    client = x.client()

    def processed(msg, _response):
        x.exps.signal(f"onProcessed {msg}")
    (x.exps
     .then(client.connect)
     .then(lambda: client.sendMessage("test message ()", None, 0, None, True))
     .then(lambda: client.sendMessage("test message (sequence)", "test_seq", 0, None, True))
     .then(lambda: client.sendMessage("test message (listener)", None, -1,
                                      listener(ClientMessageListener, onProcessed=processed), True))
     .await_("onProcessed test message (listener)")
     .then(lambda: client.sendMessage("test message (sequence+listener)", "test_seq", -1,
                                      listener(ClientMessageListener, onProcessed=processed), True))
     .await_("onProcessed test message (sequence+listener)")
     .then(x.completed)
     .verify())


def message_with_return_value(x):
    client = x.client()

    def processed(msg, resp):
        x.exps.signal(f"onProcessed `{msg}` `{resp}`")
    (x.exps
     .then(client.connect)
     .then(lambda: client.sendMessage("give me a result", "test_seq", -1,
                                      listener(ClientMessageListener, onProcessed=processed), True))
     .await_("onProcessed `give me a result` `result:ok`")
     .then(x.completed)
     .verify())


def message_with_special_chars(x):
    client = x.client()

    def on_processed(msg, _response):
        x.equals("hello +&=%\r\n", msg)
        x.completed()
    client.connect()
    client.sendMessage("hello +&=%\r\n", None, -1,
                       listener(ClientMessageListener, onProcessed=on_processed), False)


def unordered_message(x):
    client = x.client()

    def on_processed(msg, _response):
        x.equals("test message", msg)
        x.completed()
    client.connect()
    client.sendMessage("test message", "UNORDERED_MESSAGES", -1,
                       listener(ClientMessageListener, onProcessed=on_processed), False)


def message_error(x):
    client = x.client()

    def on_deny(msg, code, err):
        x.equals("throw me an error", msg)
        x.equals(ERROR_CODE, code)
        x.equals(ERROR_TEXT, err)
        x.completed()
    client.connect()
    client.sendMessage("throw me an error", "test_seq", -1,
                       listener(ClientMessageListener, onDeny=on_deny), False)


def long_message(x):
    client = x.client()
    client.connect()
    client.sendMessage(LONG_MESSAGE, "test_seq", -1,
                       listener(ClientMessageListener, onProcessed=lambda _m, _r: x.completed()),
                       False)


class TestClientSuite(unittest.TestCase):
    """One test per upstream scenario; its four transports run at once."""

    def testListeners(self):
        # Not parameterized upstream: the listeners given are the listeners kept.
        client = LightstreamerClient(SERVER.url, "TEST")
        client_listener = ClientListener()
        client.addListener(client_listener)
        self.assertEqual(client.getListeners(), [client_listener])
        sub = Subscription("MERGE", ["count"], ["count"])
        sub_listener = SubscriptionListener()
        sub.addListener(sub_listener)
        self.assertEqual(sub.getListeners(), [sub_listener])

    def run_on_all_transports(self, body):
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(TRANSPORTS)) as pool:
            runs = {t: pool.submit(Scenario(SERVER, t).run, body) for t in TRANSPORTS}
            for transport, run in runs.items():
                with self.subTest(transport=transport):
                    run.result()


SCENARIOS = {
    "testConnect": connect, "testError": error, "testDisconnect": disconnect,
    "testBandwidth": bandwidth, "testRoundTrip": round_trip, "testHeaders": headers,
    "testSubscribe": subscribe, "testSubscribeEmptyGroup": subscribe_empty_group,
    "testSubscriptionError": subscription_error,
    "testSubscribeCommand": subscribe_command,
    "testSubscribeCommand2Level": subscribe_command_2_level,
    "testUnsubscribe": unsubscribe, "testSubscribeNonAscii": subscribe_non_ascii,
    "testClearSnapshot": clear_snapshot, "testEndOfSnapshot": end_of_snapshot,
    "testOverflow": overflow, "testFrequency": frequency,
    "testChangeFrequency": change_frequency, "testJsonPatch": json_patch,
    "testDiffPatch": diff_patch, "testMessage": message,
    "testMessageWithReturnValue": message_with_return_value,
    "testMessageWithSpecialChars": message_with_special_chars,
    "testUnorderedMessage": unordered_message, "testMessageError": message_error,
    "testLongMessage": long_message,
}

def test_proxy(self):
    """testProxy, and the proxy really carried each transport's requests
    (else a client that ignored it would pass)."""
    before = PROXY.authorized
    self.run_on_all_transports(proxy)
    self.assertGreaterEqual(PROXY.authorized - before, len(TRANSPORTS), "requests through the proxy")
    self.assertEqual(PROXY.refused, 0, "requests the proxy refused")


TestClientSuite.testProxy = test_proxy

for _name, _body in SCENARIOS.items():
    setattr(TestClientSuite, _name, lambda self, body=_body: self.run_on_all_transports(body))

if __name__ == "__main__":
    unittest.main()
