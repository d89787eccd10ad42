"""A Hugging Face hub on loopback for the tests, with the response shapes of the real one.

Two servers on 127.0.0.1: the hub (API and resolve endpoint) and a content host that the resolve endpoint
redirects LFS files to, named by another host name ("localhost") and port, like the hub's CDN.

  GET  /api/models/<repo>/revision/<rev>        {"id", "sha", "siblings"}
  GET  /api/models/<repo>/tree/<rev>?recursive=  files and folders, paged with Link: <...>; rel="next"
  HEAD|GET /<repo>/resolve/<rev>/<path>         regular file: 200, ETag = git blob sha1;
                                                LFS file: 302 to the content host, X-Linked-Etag = sha256,
                                                X-Linked-Size; both carry X-Repo-Commit
  GET  content host /lfs/<sha256>               the bytes, Range: bytes=N- answered with 206

Errors as the hub sends them: 404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound, 401 with
GatedRepo for a gated repo without the right token; a renamed repo answers 307 to its new name;
test-org/loop redirects to itself and test-org/html answers a web page, as a wrong HF_ENDPOINT might. Switches on FakeHub: `cut` (the next N content responses
stop halfway; `cut_only` limits that to one blob), `corrupt` / `corrupt_regular` (a byte of LFS / regular bodies flipped), `slow` (seconds per 64 KiB chunk), `huge` (a repo's
weights listed as 1 EiB). Every request is logged with its headers.
"""

import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOKEN = "hf_fake_test_token"
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".model", ".onnx")
PAGE_SIZE = 4  # small, so that clients must follow the pages
HUGE_SIZE = 1 << 60


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, files: dict, gated=False):
        self.files = dict(sorted(files.items()))
        self.gated = gated
        self.sha256 = {p: hashlib.sha256(d).hexdigest() for p, d in self.files.items()}
        self.blob = {p: git_blob_sha1(d) for p, d in self.files.items()}
        listing = "".join(f"{p}\0{self.blob[p]}\n" for p in self.files)
        self.commit = hashlib.sha1(listing.encode()).hexdigest()

    def is_lfs(self, path):
        return path.endswith(LFS_SUFFIXES)

    def tree(self):
        entries, folders = [], set()
        for path, data in self.files.items():
            parts = path.split("/")
            for i in range(1, len(parts)):
                folders.add("/".join(parts[:i]))
            e = {"type": "file", "oid": self.blob[path], "size": len(data), "path": path}
            if self.is_lfs(path):
                e["size"] = 134  # a pointer file's size in git
                e["lfs"] = {"oid": self.sha256[path], "size": len(data), "pointerSize": 134}
            entries.append(e)
        for f in sorted(folders):
            entries.append({"type": "directory", "oid": hashlib.sha1(f.encode()).hexdigest(), "size": 0, "path": f})
        return sorted(entries, key=lambda e: e["path"])


class FakeHub:
    def __init__(self, repos: dict):
        self.repos = repos  # "owner/name" -> Repo
        self.blobs = {}
        for r in repos.values():
            for p, d in r.files.items():
                self.blobs[r.sha256[p]] = d
        self.log = []  # (server, method, path, headers dict)
        self.lock = threading.Lock()
        self.cut = 0
        self.cut_only = None  # a sha256: only its responses are cut
        self.corrupt = False  # LFS bodies from the content host
        self.corrupt_regular = False  # regular files' bodies from the hub
        self.slow = 0.0
        self.huge = set()  # repo ids whose model.safetensors is listed as HUGE_SIZE bytes
        self.renamed = {"test-org/old-m3": "test-org/m3"}
        self.hub = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("hub"))
        self.content = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("content"))
        self.hub.daemon_threads = self.content.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.hub.server_port}"
        self.content_url = f"http://localhost:{self.content.server_port}"
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.hub, self.content)]
        for t in self._threads:
            t.start()

    def close(self):
        for s in (self.hub, self.content):
            s.shutdown()
            s.server_close()

    def requests(self, server=None, agent=None):
        with self.lock:
            return [r for r in self.log if (server is None or r[0] == server)
                    and (agent is None or agent in r[3].get("user-agent", ""))]

    def clear_log(self):
        with self.lock:
            self.log.clear()

    def _handler(self, server_name):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _record(self):
                with hub.lock:
                    hub.log.append((server_name, self.command, self.path,
                                    {k.lower(): v for k, v in self.headers.items()}))

            def _send(self, status, body=b"", headers=(), content_length=None):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status, code, message):
                body = json.dumps({"error": message}).encode()
                self._send(status, body, [("X-Error-Code", code), ("X-Error-Message", message),
                                          ("Content-Type", "application/json")])

            def _json(self, obj, headers=()):
                self._send(200, json.dumps(obj).encode(), [("Content-Type", "application/json"), *headers])

            def do_HEAD(self):
                self.do_GET()

            def do_GET(self):
                self._record()
                if server_name == "content":
                    return self._content()
                url = urllib.parse.urlsplit(self.path)
                for old, new in hub.renamed.items():  # a renamed repo: a relative 307, as the hub answers
                    if f"/{old}/" in url.path:
                        return self._send(307, b"", [("Location", self.path.replace(f"/{old}/", f"/{new}/"))])
                parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
                if "test-org/loop" in url.path:  # redirects to itself
                    return self._send(302, b"", [("Location", self.path)])
                if "test-org/html" in url.path:  # not a hub at all: a web page for everything
                    return self._send(200, b"<html>hello</html>", [("Content-Type", "text/html")])
                if parts[:2] == ["api", "models"] and len(parts) >= 6:
                    return self._api(parts[2] + "/" + parts[3], parts[4], parts[5], urllib.parse.parse_qs(url.query))
                if len(parts) >= 5 and parts[2] == "resolve":
                    return self._resolve(parts[0] + "/" + parts[1], parts[3], "/".join(parts[4:]))
                self._error(404, "EntryNotFound", "no such route")

            def _repo(self, repo_id, revision):
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self._error(404, "RepoNotFound", f"Repository {repo_id} not found")
                    return None
                if repo.gated and self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted")
                    return None
                if revision not in ("main", repo.commit):
                    self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                    return None
                return repo

            def _api(self, repo_id, kind, revision, query):
                repo = self._repo(repo_id, revision)
                if repo is None:
                    return
                if kind == "revision":
                    return self._json({"_id": "0" * 24, "id": repo_id, "sha": repo.commit,
                                       "siblings": [{"rfilename": p} for p in repo.files]})
                if kind != "tree":
                    return self._error(404, "EntryNotFound", "no such route")
                entries = repo.tree()
                if repo_id in hub.huge:
                    for e in entries:
                        if e["path"] == "model.safetensors":
                            e["lfs"]["size"] = HUGE_SIZE
                if query.get("recursive", ["false"])[0].lower() != "true":
                    entries = [e for e in entries if "/" not in e["path"]]
                start = int(query.get("cursor", ["0"])[0])
                page = entries[start:start + PAGE_SIZE]
                headers = []
                if start + PAGE_SIZE < len(entries):
                    q = dict((k, v[0]) for k, v in query.items())
                    q["cursor"] = str(start + PAGE_SIZE)
                    nxt = f"{hub.endpoint}{urllib.parse.urlsplit(self.path).path}?{urllib.parse.urlencode(q)}"
                    headers.append(("Link", f'<{nxt}>; rel="next"'))
                self._json(page, headers)

            def _resolve(self, repo_id, revision, path):
                repo = self._repo(repo_id, revision)
                if repo is None:
                    return
                if path not in repo.files:
                    return self._send(404, b"{}", [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", repo.commit)])
                data = repo.files[path]
                common = [("X-Repo-Commit", repo.commit)]
                if not repo.is_lfs(path):
                    if hub.corrupt_regular:
                        data = bytes([data[0] ^ 0xFF]) + data[1:]
                    return self._send(200, data, common + [("ETag", f'"{repo.blob[path]}"')])
                size = HUGE_SIZE if repo_id in hub.huge and path == "model.safetensors" else len(data)
                location = f"{hub.content_url}/lfs/{repo.sha256[path]}?X-Amz-Signature=fake"
                self._send(302, b"", common + [("Location", location), ("ETag", f'"{repo.blob[path]}"'),
                                               ("X-Linked-Etag", f'"{repo.sha256[path]}"'),
                                               ("X-Linked-Size", str(size))])

            def _content(self):
                sha = urllib.parse.urlsplit(self.path).path.rsplit("/", 1)[-1]
                data = hub.blobs.get(sha)
                if data is None:
                    return self._send(404, b"not found")
                if hub.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                start, status, headers = 0, 200, [("ETag", f'"{sha}"'), ("Accept-Ranges", "bytes")]
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        return self._send(416, b"", [("Content-Range", f"bytes */{len(data)}")])
                    status = 206
                    headers.append(("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"))
                body = data[start:]
                with hub.lock:
                    cut = hub.cut > 0 and hub.cut_only in (None, sha)
                    if cut:
                        hub.cut -= 1
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                send = body[:len(body) // 2] if cut else body
                try:
                    for i in range(0, len(send), 1 << 16):
                        if hub.slow:
                            threading.Event().wait(hub.slow)
                        self.wfile.write(send[i:i + (1 << 16)])
                except ConnectionError:  # the client gave up (a test of failing writes)
                    self.close_connection = True
                    return
                if cut:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)

        return Handler


def golden_repos(golden: Path) -> dict:
    """The hub's repos, made from the test model folders (plus files the engine must not fetch)."""

    def folder(name, skip=("reference.json",)):
        return {p.name: p.read_bytes() for p in sorted((golden / name).iterdir()) if p.name not in skip}

    extra = {"README.md": b"# test model\n", "reference.json": (golden / "m3" / "reference.json").read_bytes(),
             "onnx/model.onnx": b"\0" * (2 << 20), "modules.json": json.dumps(
                 [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
             ).encode(), "1_Pooling/config.json": b'{"word_embedding_dimension": 32, "pooling_mode_cls_token": true}'}
    m3 = folder("m3")
    bert = dict(m3)
    config = json.loads(bert["config.json"])
    config["model_type"] = "bert"
    bert["config.json"] = json.dumps(config).encode()
    return {
        "test-org/m3": Repo({**m3, **extra}),
        "test-org/m3-sharded": Repo(folder("m3-f16-sharded")),
        "test-org/m3-bin": Repo(folder("m3-bin")),
        "test-org/reranker-gated": Repo(folder("reranker"), gated=True),
        "test-org/bert": Repo(bert),
        "test-org/huge": Repo(m3),
    }
