"""Records what a remote adapter built on an official SDK sends, as a scripted
proxy: it listens on the adapter ports, starts the remote, sends the requests
below (as Shoal's encoder writes them for ARI 1.8.3, the version both SDKs
answer), and writes transcripts to ../fixtures/<name>-<connection>.txt:
'> ' lines sent by the proxy, '< ' lines received (KEEPALIVEs left out), and
'= ' lines with what the SDK decoded from each request (the adapter's log).

Usage: python3 record.py node153 'node node153_remote.js'
       python3 record.py py131 'python py131_remote.py'
(the remote command gets the metadata, data and notify ports appended).
The SDKs must be installed where the remotes find them: `npm install
lightstreamer-adapter@1.5.3` somewhere and NODE_PATH=<there>/node_modules;
`pip install lightstreamer-adapter==1.3.1` in the Python that runs the remote."""
import os
import queue
import shlex
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures")
MPORT, DPORT, NPORT = 17103, 17101, 17102

METADATA = [
    "100|MPI|S|ARI.version|S|1.9.1|S|keepalive_hint.millis|S|8000"
    "|S|adapters_conf.id|S|SHOAL_TEST|S|custom.param|S|a+b%7C%E2%82%AC",
    "101|NUS|S|alice|S|secret+%23|S|user-agent|S|Mozilla%2F5.0+%28X11%29"
    "|S|x-odd|S|%25%2B%7C%0D%0A%23",
    "102|NUS|S|denied|S|#",
    "103|NUS|S|credits|S|$",
    "104|NUA|S|alice|S|pw|S|CN%3Dalice|S|host|S|localhost",
    "105|GIS|S|alice|S|item1+item%7C2+%E2%82%AC|S|S1234",
    "106|GIS|S|alice|S|bad|S|S1234",
    "107|GIS|S|alice|S|empty|S|S1234",
    "108|GSC|S|alice|S|item1|S|last_price+bid|S|S1234",
    "109|GSC|S|alice|S|item1|S|bad|S|S1234",
    "110|GIT|S|item1|S|item%7C2",
    "111|GUI|S|alice|S|item1|S|item%7C2",
    "112|NUM|S|alice|S|S1234|S|hello+%E2%82%AC+%7C+%25",
    "113|NUM|S|alice|S|S1234|S|fail",
    "114|NUM|S|alice|S|S1234|S|credits",
    "115|NNS|S|alice|S|S1234|S|REMOTE_IP|S|127.0.0.1|S|USER_AGENT|S|Mozilla%2F5.0"
    "|S|FORWARDING_INFO|S|#",
    "116|NNS|S|conflict|S|S5678|S|REMOTE_IP|S|127.0.0.1",
    "117|NNT|S|alice|S|S1234|I|1|M|M|S|item1+item2|S|last_price|I|1|I|2|S|#"
    "|I|2|M|C|S|portfolio|S|key+command+qty|I|1|I|1|S|sel%7C1",
    "118|NTC|S|S1234|I|1|M|M|S|item1+item2|S|last_price|I|1|I|2|S|#",
    "119|NSC|S|S1234",
]
DATA = [
    "200|DPI|S|ARI.version|S|1.9.1|S|keepalive_hint.millis|S|8000"
    "|S|data_provider.name|S|DEFAULT|S|adapters_conf.id|S|SHOAL_TEST",
    "201|SUB|S|item1",
    "202|SUB|S|item%7C2",
    "203|SUB|S|bad",
    "204|SUB|S|failing",
    "205|USB|S|item1",
]
CLOSE = "0|CLOSE|S|reason|S|test+over"


class Conn:
    def __init__(self, sock, name):
        self.sock, self.name, self.log = sock, name, []
        self.lines = queue.Queue()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                self.lines.put(None)
                return
            buf += data
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.rstrip(b"\r").decode("utf-8")
                if line and line != "KEEPALIVE":
                    self.log.append("< " + line)
                    self.lines.put(line)

    def send(self, line):
        self.log.append("> " + line)
        self.sock.sendall(line.encode("utf-8") + b"\r\n")

    def wait_for(self, prefix, timeout=5.0):
        end = time.time() + timeout
        while time.time() < end:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                raise SystemExit(f"{self.name}: connection closed")
            if line.startswith(prefix):
                return line
        raise SystemExit(f"{self.name}: no line starting with {prefix!r}")


def accept_all(ports):
    socks = {}
    for port in ports:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1)
        socks[port] = s
    return socks


def main():
    name, command = sys.argv[1], shlex.split(sys.argv[2])
    two_data = name.startswith("node")
    ports = [MPORT, DPORT] + ([NPORT] if two_data else [])
    listeners = accept_all(ports)
    remote = subprocess.Popen(command + [str(p) for p in (MPORT, DPORT, NPORT)],
                              cwd=HERE, stdout=subprocess.PIPE, text=True)
    seen = []
    threading.Thread(target=lambda: seen.extend(remote.stdout), daemon=True).start()
    conns = {p: Conn(listeners[p].accept()[0], str(p)) for p in ports}
    meta, data = conns[MPORT], conns[DPORT]
    for conn in (meta, data):
        conn.wait_for("1|RAC|")
    for conn, script in ((meta, METADATA), (data, DATA)):
        for line in script:
            conn.send(line)
            conn.wait_for(line.split("|")[0] + "|")
            time.sleep(0.05 if conn is meta else 0.4)
    time.sleep(1.0)
    for conn in (meta, data):
        conn.send(CLOSE)
    time.sleep(0.5)
    remote.kill()
    remote.wait()
    for port, conn in conns.items():
        kind = {MPORT: "metadata", DPORT: "data", NPORT: "notify"}[port]
        path = os.path.join(OUT, f"{name}-{kind}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(conn.log) + "\n")
    with open(os.path.join(OUT, f"{name}-decoded.txt"), "w", encoding="utf-8") as f:
        f.write("".join("= " + s for s in seen))


main()
