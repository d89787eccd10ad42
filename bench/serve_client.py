"""Helpers shared by the `bge serve` load benchmarks (serve_load.py, serve_scale.py), Python stdlib only: start and
stop a server on a free port, read /metrics, token ids from /tokenize, and an asyncio keep-alive HTTP/1.1 client."""
import asyncio
import collections
import json
import re
import subprocess
import threading
import urllib.error
import urllib.request

# A full batch of a large model can take a minute on a small CPU: no 504s, no idle keep-alive cut.
BASE_ARGS = ["--port", "0", "--max-client-batch", "1024", "--auto-truncate", "--request-timeout", "3600",
             "--idle-timeout", "3600", "--shutdown-timeout", "600"]


class ServerRefused(RuntimeError):
    """`bge serve` exited before it was ready (e.g. it refused its --device); the message ends with its stderr."""


def start_server(bge, model, extra=(), env=None):
    """Starts `bge serve --model MODEL` on a free port with BASE_ARGS + extra; returns (process, port). Its stderr
    is drained from then on; the last lines stay in process.log_tail."""
    cmd = [bge, "serve", "--model", model, *BASE_ARGS, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    proc.log_tail = collections.deque(maxlen=40)
    for line in proc.stderr:
        proc.log_tail.append(line.rstrip("\n"))
        m = re.search(r"ready on http://[^:]+:(\d+)", line)
        if m:
            # Drain the access log so the pipe never fills.
            threading.Thread(target=lambda: [proc.log_tail.append(x.rstrip("\n")) for x in proc.stderr],
                             daemon=True).start()
            return proc, int(m.group(1))
    proc.wait()
    raise ServerRefused(f"`{' '.join(cmd)}` exited with {proc.returncode}: " + " / ".join(proc.log_tail))


def stop_server(proc):
    proc.terminate()
    proc.wait(900)


def get(port, path):
    """(status, body bytes) of GET path; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def parse_metrics(text):
    """Prometheus text -> {series: value}, the series named with its labels as printed, e.g.
    'bge_worker_healthy{model="embedder",worker="0",device="cpu"}'."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def metrics(port):
    return parse_metrics(get(port, "/metrics")[1].decode())


LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def series(m, name):
    """[(labels dict, value)] of every series of metric `name` in parse_metrics' output."""
    out = []
    for key, value in m.items():
        base, _, labels = key.partition("{")
        if base == name:
            out.append((dict(LABEL.findall(labels)), value))
    return out


def post_json(port, path, obj):
    """Parsed JSON answer of POST path with body obj; an HTTP error status raises urllib.error.HTTPError."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(obj).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def tokenize(port, text):
    """Ids of `text` by the server's own tokenizer (/tokenize), <s> and </s> included, cut to the model's limit."""
    return [t["id"] for t in post_json(port, "/tokenize", {"inputs": text})[0]]


def token_ids(port, tokens):
    """Ids of a text cut to `tokens` tokens by the server's own tokenizer, without <s> and </s>."""
    return tokenize(port, " ".join(["Deutschland Россия 日本"] * tokens))[1:tokens - 1]


class Connection:
    """One keep-alive connection; requests on it go one at a time. A dropped connection raises ConnectionError."""

    @classmethod
    async def open(cls, port):
        self = cls()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return self

    async def request(self, method, path, body=b""):
        """(status code, body bytes)."""
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        await self.writer.drain()
        status = await self.reader.readline()
        if not status:
            raise ConnectionError("the server closed the connection")
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return int(status.split()[1]), await self.reader.readexactly(length)

    async def post(self, path, body):
        return await self.request("POST", path, body)

    def close(self):
        self.writer.close()
