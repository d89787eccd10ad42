"""Starts the real `bge serve` binary on a free loopback port and stops it (SIGTERM, exit 0 expected).

BGE_BINARY names the binary (ctest sets it); BGE_TEST_DIR the tests folder with golden/ models.
"""
import json
import math
import os
import re
import signal
import subprocess
import threading
import time

import requests

BINARY = os.environ.get("BGE_BINARY", "build/bge")
TEST_DIR = os.environ.get("BGE_TEST_DIR", os.path.join(os.path.dirname(__file__), ".."))
M3 = os.path.join(TEST_DIR, "golden", "m3")
RERANKER = os.path.join(TEST_DIR, "golden", "reranker")


class Server:
    def __init__(self, *args, env=None, models=True, wait_ready=True):
        """wait_ready=False: returns once the port is open (the models may still be loading)."""
        cmd = [BINARY, "serve", "--port", "0", "--threads", "1"]
        if models:
            cmd += ["--model", M3, "--reranker", RERANKER]
        cmd += list(args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=full_env)
        self.lines = []
        self._wait_ready = wait_ready
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(120):
            self.proc.kill()
            raise RuntimeError("bge serve did not become ready:\n" + "\n".join(self.lines))
        self.url = f"http://127.0.0.1:{self.port}"

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            m = re.search(r"ready on http://[^:]+:(\d+)" if self._wait_ready else r"listening on http://[^:]+:(\d+)",
                          line)
            if m:
                self.port = int(m.group(1))
                self._ready.set()

    def post(self, path, body=None, **kw):
        return requests.post(self.url + path, json=body, timeout=30, **kw)

    def get(self, path, **kw):
        return requests.get(self.url + path, timeout=30, **kw)

    def access_log(self):
        return [l for l in self.lines if not l.startswith("bge serve:")]

    def stop(self, timeout=30):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        self._close_pipes()
        return code

    def _close_pipes(self):
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe and not pipe.closed:
                pipe.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        self._close_pipes()


def assert_close(test, got, want, what=""):
    """Equal vectors up to 1e-5: bitwise on AVX-512, but oneDNN's AVX2 GEMMs round by batch size and thread
    count. Another input's vector (a mixed-up answer) is far further away."""
    test.assertEqual(len(got), len(want), what)
    for k, (a, b) in enumerate(zip(got, want)):
        test.assertAlmostEqual(a, b, delta=1e-5, msg=f"{what} [{k}]")


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def cli_embed(text, dtype="fp32"):
    """The CLI's dense vector for `text` (bge embed in `dtype`), to compare with the server's."""
    out = subprocess.run([BINARY, "embed", "--model", M3, "--dense", "--quiet", "--threads", "1", "--dtype", dtype],
                         input=json.dumps(text) + "\n", capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["dense"]


def wait_for(predicate, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False
