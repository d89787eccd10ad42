"""`bge serve --device cuda:N` on the GPU machine (scripts/test-gpu runs it; no GPU here): the ready line and /info
name the device and dtype; answers from the scheduler's worker thread (not the loading thread) match the CPU's
`bge embed` (dense cosine >= 0.999 in fp16, >= 0.99999 in fp32) under 64 concurrent clients; a --max-batch-tokens
the GPU cannot hold stops start-up with exit 1, saying what fits. Python stdlib only.

Usage: python3 tests/server/cuda_serve_check.py --bge BIN [--device cuda:0] [--dtype fp16]
Exits 1 on the first failed check.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from harness import cosine

M3 = os.path.join(os.path.dirname(__file__), "..", "golden", "m3")
TEXTS = [f"text number {i}: " + "word " * (i % 40) for i in range(64)]


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        sys.exit(1)


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=60).read())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bge", required=True)
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--dtype", default="fp16")
    a = p.parse_args()
    proc = subprocess.Popen([a.bge, "serve", "--model", M3, "--port", "0", "--device", a.device, "--dtype", a.dtype],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port, lines = None, []
    for line in proc.stderr:
        lines.append(line.rstrip())
        m = re.search(r"ready on http://[^:]+:(\d+) \(([^,]+), ([^,]+),", line)
        if m:
            port = int(m.group(1))
            check(m.group(2) == a.device, f"ready line names {a.device}: {line.strip()}")
            break
    check(port is not None, "bge serve became ready: " + " | ".join(lines[-3:]))
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    try:
        info = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=10).read())
        check(info["device"] == a.device and info["dtype"] == a.dtype.upper().replace("FP", "F"),
              f"/info: device {info['device']}, dtype {info['dtype']}")
        cpu = subprocess.run([a.bge, "embed", "--model", M3, "--dense", "--quiet", "--device", "cpu"],
                             input="".join(json.dumps(t) + "\n" for t in TEXTS), capture_output=True, text=True,
                             check=True).stdout.splitlines()
        want = [json.loads(l)["dense"] for l in cpu]
        with ThreadPoolExecutor(64) as pool:
            got = list(pool.map(lambda t: post(port, "/embed", {"inputs": t, "truncate": True})[0], TEXTS))
        worst = min(cosine(g, w) for g, w in zip(got, want))
        bar = 0.99999 if a.dtype == "fp32" else 0.999
        check(worst >= bar, f"64 concurrent /embed answers vs CPU bge embed: min cosine {worst:.7f} (bar {bar})")
        proc.terminate()
        check(proc.wait(60) == 0, "SIGTERM: exit 0")
    finally:
        if proc.poll() is None:
            proc.kill()
    huge = subprocess.run([a.bge, "serve", "--model", M3, "--port", "0", "--device", a.device, "--dtype", a.dtype,
                           "--max-batch-tokens", "2000000000"], capture_output=True, text=True, timeout=300)
    check(huge.returncode == 1 and " fit" in huge.stderr,
          f"a budget the GPU cannot hold stops start-up: exit {huge.returncode}, {huge.stderr.strip()[-200:]}")


if __name__ == "__main__":
    main()
