"""One `shoal serve` process for the Python tests: started with the given
arguments (the binary is SHOAL_BIN, by default target/release/shoal), ready
once it has said where it listens, stopped by `stop()`.
"""

import os
import re
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SHOAL_BIN", str(ROOT / "target" / "release" / "shoal"))
START_TIMEOUT_S = 15


class Shoal:
    """`shoal serve ARGS`; `url` is its first listener's, `stderr` its log lines."""

    def __init__(self, args):
        if not os.access(BIN, os.X_OK):
            raise RuntimeError(f"no shoal binary at {BIN}: build it first (cargo build --release)")
        self.proc = subprocess.Popen(
            [BIN, "serve", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.stderr = []
        threading.Thread(target=self._drain_err, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        self.url = None
        while self.url is None:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("shoal exited before listening: " + "".join(self.stderr[-20:]))
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
            if time.monotonic() > deadline:
                raise RuntimeError(f"shoal did not say where it listens within {START_TIMEOUT_S} s")
        # The rest of its output is read too, so that it never blocks on a full pipe.
        threading.Thread(target=self._drain_out, daemon=True).start()

    def _drain_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def _drain_out(self):
        for _ in self.proc.stdout:
            pass

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
