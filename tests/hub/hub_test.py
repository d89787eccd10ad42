"""bge's hub client against a fake hub on loopback (fake_hub.py), cross-checked with huggingface_hub itself.

Usage: hub_test.py --bge build/bge [unittest args]. Needs tests/requirements.txt (huggingface_hub).
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parent / "golden"
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(HERE))
import fake_hub  # noqa: E402

os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read when huggingface_hub is imported
try:
    import huggingface_hub
except ImportError:
    print("hub_test: SKIPPED: huggingface_hub is missing (scripts/setup installs tests/requirements.txt into .venv"
          " when PyPI is reachable)")
    sys.exit(77)

BGE = None
# What the engine reads of test-org/m3 (the repo also holds README.md, reference.json, onnx/model.onnx).
M3_FILES = {"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "sentencepiece.bpe.model", "modules.json", "1_Pooling/config.json", "sparse_linear.pt",
            "colbert_linear.pt", "model.safetensors"}
TEXTS = '"What is BGE M3?"\n"Defination of BM25"\n'
PAIRS = '{"query": "what is panda?", "passage": "The giant panda is a bear."}\n'


def tree_of(root: Path) -> dict:
    """Every path under root: kind, symlink target, mode, and content hash of regular files."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_dir():
            out[rel] = ("dir", oct(p.stat().st_mode & 0o777))
        else:
            out[rel] = ("file", oct(p.stat().st_mode & 0o777), hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def snapshot_files(snapshot: Path) -> set:
    return {str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if not p.is_dir()}


class HubTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = fake_hub.FakeHub(fake_hub.golden_repos(GOLDEN))
        cls.m3 = cls.hub.repos["test-org/m3"]

    @classmethod
    def tearDownClass(cls):
        cls.hub.close()

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.cache = self.tmp / "cache"
        hub = self.hub
        hub.cut, hub.cut_only, hub.corrupt, hub.corrupt_regular, hub.slow, hub.huge = 0, None, False, False, 0.0, set()
        hub.clear_log()

    def tearDown(self):
        self._tmp.cleanup()

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HF_", "HUGGING")) and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env.update(HF_HOME=str(self.tmp / "home"), HF_HUB_CACHE=str(self.cache), HF_ENDPOINT=self.hub.endpoint,
                   NO_PROXY="127.0.0.1,localhost")
        env.update(extra)
        return env

    def bge(self, *args, stdin="", **env):
        return subprocess.run([BGE, *args], input=stdin, capture_output=True, text=True, env=self.env(**env),
                              timeout=120)

    def ok(self, *args, **kw):
        r = self.bge(*args, **kw)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def fails(self, *args, **kw):
        """Runs bge expecting failure; returns its one stderr line."""
        r = self.bge(*args, **kw)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        return lines[0]

    def snapshot(self, repo="test-org/m3", cache=None):
        r = self.hub.repos[repo]
        return (cache or self.cache) / f"models--{repo.replace('/', '--')}" / "snapshots" / r.commit

    def content_gets(self, sha):
        return [r for r in self.hub.requests("content") if r[1] == "GET" and sha in r[2]]

    def hf_download(self, cache, **kw):
        return huggingface_hub.snapshot_download("test-org/m3", cache_dir=str(cache), endpoint=self.hub.endpoint,
                                                 allow_patterns=sorted(M3_FILES), **kw)

    def test_cache_tree_identical_to_huggingface_hub(self):
        r = self.ok("download", "test-org/m3")
        self.assertEqual(r.stdout.strip(), str(self.snapshot()))
        self.assertEqual(snapshot_files(self.snapshot()), M3_FILES)
        for f in M3_FILES:
            self.assertEqual((self.snapshot() / f).read_bytes(), self.m3.files[f], f)
        # Only the engine's files were asked for: nothing of README.md, reference.json, onnx/.
        asked = " ".join(r[2] for r in self.hub.requests())
        for f in ("README.md", "reference.json", "onnx"):
            self.assertNotIn(f, asked)
        # The token-less listing was paged (PAGE_SIZE entries a page) and every page was read.
        self.assertGreater(len([r for r in self.hub.requests("hub") if "/tree/" in r[2]]), 3)

        theirs = self.tmp / "hf-cache"
        self.assertEqual(Path(self.hf_download(theirs)), self.snapshot(cache=theirs))
        self.assertEqual(tree_of(self.cache), tree_of(theirs))
        self.assertEqual((self.cache / "models--test-org--m3" / "refs" / "main").read_text(), self.m3.commit)

    def test_each_reads_the_others_cache(self):
        # bge, offline, on huggingface_hub's cache: the same embeddings as from the folder, no request made.
        theirs = self.tmp / "hf-cache"
        self.hf_download(theirs)
        self.hub.clear_log()
        from_hub = self.ok("embed", "--model", "test-org/m3", stdin=TEXTS, HF_HUB_CACHE=str(theirs), HF_HUB_OFFLINE="1")
        self.assertEqual(self.hub.requests(), [])
        from_folder = self.ok("embed", "--model", str(GOLDEN / "m3"), stdin=TEXTS)
        self.assertEqual(from_hub.stdout, from_folder.stdout)
        self.assertEqual(len(from_hub.stdout.splitlines()), 2)

        # huggingface_hub on bge's cache: offline it finds the snapshot; online it fetches nothing again.
        self.ok("download", "test-org/m3")
        self.assertEqual(Path(self.hf_download(self.cache, local_files_only=True)), self.snapshot())
        self.hub.clear_log()
        self.hf_download(self.cache)
        self.assertEqual(self.hub.requests("content"), [])
        self.assertEqual([r for r in self.hub.requests("hub") if "/resolve/" in r[2]], [])

        # bge online on a full cache: the API only, no file fetched again.
        self.hub.clear_log()
        self.ok("embed", "--model", "test-org/m3", stdin=TEXTS)
        self.assertEqual(self.hub.requests("content"), [])
        self.assertEqual([r for r in self.hub.requests("hub") if "/resolve/" in r[2]], [])

    def test_every_command_takes_a_hub_id(self):
        folder = str(GOLDEN / "m3")
        for args, stdin in ((["tokenize"], TEXTS), (["embed", "--sparse"], TEXTS), (["score"], PAIRS)):
            self.assertEqual(self.ok(*args, "--model", "test-org/m3", stdin=stdin).stdout,
                             self.ok(*args, "--model", folder, stdin=stdin).stdout, args)
        token = {"HF_TOKEN": fake_hub.TOKEN}
        self.assertEqual(self.ok("rerank", "--model", "test-org/reranker-gated", stdin=PAIRS, **token).stdout,
                         self.ok("rerank", "--model", str(GOLDEN / "reranker"), stdin=PAIRS).stdout)
        # Sharded safetensors: the index and its shards; pytorch_model.bin when there is no safetensors.
        for repo, folder_name in (("test-org/m3-sharded", "m3-f16-sharded"), ("test-org/m3-bin", "m3-bin")):
            info = json.loads(self.ok("info", "--model", repo, "--quiet").stdout)
            ref = json.loads(self.ok("info", "--model", str(GOLDEN / folder_name)).stdout)
            for key in ("kind", "weights_dtype", "outputs", "hidden_size"):
                self.assertEqual(info[key], ref[key], (repo, key))
        self.assertIn("model-00002-of-00002.safetensors", snapshot_files(self.snapshot("test-org/m3-sharded")))
        self.assertIn("pytorch_model.bin", snapshot_files(self.snapshot("test-org/m3-bin")))

    def test_resume_after_cut(self):
        sha = self.m3.sha256["model.safetensors"]
        size = len(self.m3.files["model.safetensors"])
        # One cut: the same run resumes with a Range request from where the body stopped.
        self.hub.cut, self.hub.cut_only = 1, sha
        r = self.ok("download", "test-org/m3")
        self.assertIn("resuming", r.stderr)
        ranges = [g[3].get("range") for g in self.content_gets(sha)]
        self.assertEqual(ranges, [None, f"bytes={size // 2}-"])
        self.assertEqual((self.snapshot() / "model.safetensors").read_bytes(), self.m3.files["model.safetensors"])

    def test_resume_in_a_later_run(self):
        sha = self.m3.sha256["model.safetensors"]
        size = len(self.m3.files["model.safetensors"])
        incomplete = self.cache / "models--test-org--m3" / "blobs" / (sha + ".incomplete")
        self.hub.cut, self.hub.cut_only = 100, sha  # every try is cut
        line = self.fails("download", "test-org/m3", "--quiet")
        self.assertIn("run again to resume", line)
        have = incomplete.stat().st_size
        self.assertGreater(have, 0)
        self.assertLess(have, size)
        self.assertFalse((self.snapshot() / "model.safetensors").exists())
        self.hub.cut = 0
        self.hub.clear_log()
        self.ok("download", "test-org/m3")
        self.assertEqual([g[3].get("range") for g in self.content_gets(sha)], [f"bytes={have}-"])
        self.assertFalse(incomplete.exists())
        self.assertEqual((self.snapshot() / "model.safetensors").read_bytes(), self.m3.files["model.safetensors"])

    def test_offline(self):
        line = self.fails("embed", "--model", "test-org/m3", stdin=TEXTS, HF_HUB_OFFLINE="1")
        self.assertIn("offline", line)
        self.assertIn("not in the cache", line)
        self.assertEqual(self.hub.requests(), [])
        self.ok("download", "test-org/m3", "--quiet")
        self.hub.clear_log()
        self.ok("embed", "--model", "test-org/m3", stdin=TEXTS, HF_HUB_OFFLINE="1")
        self.ok("embed", "--model", "test-org/m3@" + self.m3.commit, stdin=TEXTS, HF_HUB_OFFLINE="true")
        self.assertEqual(self.hub.requests(), [])
        # A hub that cannot be reached: the cached revision stands in, with a warning.
        closed = "http://127.0.0.1:9"
        r = self.ok("embed", "--model", "test-org/m3", stdin=TEXTS, HF_ENDPOINT=closed)
        self.assertIn("cannot reach", r.stderr)
        self.assertIn("cannot reach", self.fails("embed", "--model", "test-org/bert", stdin=TEXTS, HF_ENDPOINT=closed))
        # A partly cached snapshot is named as such.
        (self.snapshot() / "model.safetensors").unlink()
        line = self.fails("embed", "--model", "test-org/m3", stdin=TEXTS, HF_HUB_OFFLINE="1")
        self.assertIn("lacks model.safetensors", line)

    def test_corrupt_download_is_not_kept(self):
        self.hub.corrupt = True
        line = self.fails("download", "test-org/m3", "--quiet")
        self.assertIn("checksum mismatch", line)
        blobs = self.cache / "models--test-org--m3" / "blobs"
        self.assertEqual([p.name for p in blobs.iterdir() if len(p.name) != 40], [])  # no LFS blob, no .incomplete
        self.assertFalse((self.snapshot() / "sentencepiece.bpe.model").exists())
        # A regular file is checked against its git blob id.
        self.hub.corrupt, self.hub.corrupt_regular = False, True
        line = self.fails("download", "test-org/m3-bin", "--quiet")
        self.assertIn("checksum mismatch for config.json of test-org/m3-bin: the hub names git blob sha1", line)
        bin_blobs = self.cache / "models--test-org--m3-bin" / "blobs"
        self.assertEqual(list(bin_blobs.iterdir()), [])

    def test_corrupt_cached_blob_is_fetched_again(self):
        self.ok("download", "test-org/m3", "--quiet")
        # An LFS blob (named by its sha256) and a regular one (named by its git blob id).
        blobs = self.cache / "models--test-org--m3" / "blobs"
        corrupted = {"model.safetensors": blobs / self.m3.sha256["model.safetensors"],
                     "tokenizer_config.json": blobs / self.m3.blob["tokenizer_config.json"]}
        for blob in corrupted.values():
            data = bytearray(blob.read_bytes())
            data[100] ^= 1
            blob.write_bytes(bytes(data))
        r = self.ok("download", "test-org/m3")
        self.assertIn("model.safetensors (" + str(corrupted["model.safetensors"]) + ") is corrupt: sha256", r.stderr)
        self.assertIn("tokenizer_config.json (" + str(corrupted["tokenizer_config.json"]) + ") is corrupt: git blob",
                      r.stderr)
        for f, blob in corrupted.items():
            self.assertEqual(blob.read_bytes(), self.m3.files[f], f)

    def test_two_concurrent_downloads(self):
        self.hub.slow = 0.02
        procs = [subprocess.Popen([BGE, "download", "test-org/m3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=self.env()) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        for p, (out, err) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(out.strip(), str(self.snapshot()))
        for f in M3_FILES:
            self.assertEqual((self.snapshot() / f).read_bytes(), self.m3.files[f], f)
        # One body per blob: the second process waited on the lock and found it done.
        for f in ("model.safetensors", "sentencepiece.bpe.model"):
            self.assertEqual(len(self.content_gets(self.m3.sha256[f])), 1, f)
        self.assertEqual([p for p in (self.cache / "models--test-org--m3").rglob("*") if ".tmp" in p.name or
                          p.name.endswith(".incomplete")], [])

    def test_concurrent_with_huggingface_hub(self):
        # The same lock files: whoever takes a blob's lock first fetches it, the other links it.
        self.hub.slow = 0.02
        proc = subprocess.Popen([BGE, "download", "test-org/m3", "--quiet"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env())
        self.hf_download(self.cache)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        for f in M3_FILES:
            self.assertEqual((self.snapshot() / f).read_bytes(), self.m3.files[f], f)
            if f in self.m3.sha256 and self.m3.is_lfs(f):
                self.assertEqual(len(self.content_gets(self.m3.sha256[f])), 1, f)

    def test_disk_full_while_writing(self):
        # blobs/<etag>.incomplete on /dev/full: every write fails with ENOSPC, like a full disk.
        sha = self.m3.sha256["model.safetensors"]
        blobs = self.cache / "models--test-org--m3" / "blobs"
        blobs.mkdir(parents=True)
        (blobs / (sha + ".incomplete")).symlink_to("/dev/full")
        line = self.fails("download", "test-org/m3", "--quiet")
        self.assertIn("disk full writing", line)
        self.assertFalse((blobs / sha).exists())
        self.assertFalse((self.snapshot() / "model.safetensors").exists())

    def test_renamed_repo(self):
        r = self.ok("download", "test-org/old-m3", "--quiet")
        self.assertEqual(snapshot_files(Path(r.stdout.strip())), M3_FILES)
        self.assertIn("models--test-org--old-m3", r.stdout)  # the name asked for, as huggingface_hub keeps it

    def test_token_goes_only_to_the_hub(self):
        line = self.fails("download", "test-org/reranker-gated")
        self.assertIn("gated", line)
        self.assertIn("HF_TOKEN", line)
        self.assertIn("refused", self.fails("download", "test-org/reranker-gated", HF_TOKEN="hf_wrong"))
        self.hub.clear_log()
        self.ok("download", "test-org/reranker-gated", HF_TOKEN=fake_hub.TOKEN)
        hub_side, content_side = self.hub.requests("hub", "bge.cpp"), self.hub.requests("content", "bge.cpp")
        self.assertTrue(hub_side and content_side)
        self.assertTrue(all(r[3].get("authorization") == f"Bearer {fake_hub.TOKEN}" for r in hub_side))
        self.assertTrue(all("authorization" not in r[3] for r in content_side))
        # The token file huggingface_hub writes ($HF_HOME/token) is read when HF_TOKEN is not set.
        (self.tmp / "home").mkdir()
        (self.tmp / "home" / "token").write_text(fake_hub.TOKEN + "\n")
        self.ok("download", "test-org/reranker-gated", HF_HUB_CACHE=str(self.tmp / "cache2"))

    def test_errors_are_one_line(self):
        self.assertIn("not found (HTTP 404)", self.fails("download", "test-org/nope"))
        self.assertIn("revision 'nope' not found", self.fails("download", "test-org/m3@nope"))
        self.assertIn("neither a model folder nor a hub repo id", self.fails("embed", "--model", "bad--name/x"))
        self.assertIn("not found", self.fails("embed", "--model", "./no-such-folder"))
        self.hub.clear_log()
        self.assertIn("not an XLM-R embedder or reranker", self.fails("download", "test-org/bert", "--quiet"))
        self.assertEqual([r for r in self.hub.requests() if "model.safetensors" in r[2]], [])  # decided first
        self.assertIn("more than 10 redirects", self.fails("download", "test-org/loop"))
        self.assertIn("is HF_ENDPOINT=" + self.hub.endpoint + " a hub?", self.fails("download", "test-org/html"))
        self.hub.huge = {"test-org/huge"}
        self.assertIn("not enough disk space for model.safetensors", self.fails("download", "test-org/huge", "--quiet"))

    def test_progress_on_stderr_unless_quiet(self):
        self.hub.slow = 0.01
        r = self.ok("download", "test-org/m3", "--include", "onnx/")
        # The first update shows at once, later ones at most once a second (a line each off a terminal).
        self.assertRegex(r.stderr, r"bge: onnx/model.onnx [0-9.]+ (B|KiB|MiB) / 2.0 MiB \([0-9]+%\)\n")
        self.assertIn("bge: fetched onnx/model.onnx (2.0 MiB)", r.stderr)
        self.assertEqual(self.ok("download", "test-org/m3", "--include", "onnx/", "--quiet",
                                 HF_HUB_CACHE=str(self.tmp / "cache2")).stderr, "")

    def test_include_and_commit_revision(self):
        r = self.ok("download", "test-org/m3@" + self.m3.commit, "--include", "*.json", "--quiet")
        self.assertEqual(r.stdout.strip(), str(self.snapshot()))
        self.assertEqual(r.stderr, "")
        self.assertEqual(snapshot_files(self.snapshot()),
                         {f for f in self.m3.files if f.endswith(".json")})
        self.assertFalse((self.cache / "models--test-org--m3" / "refs").exists())  # a commit needs no ref


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "--bge":
        sys.exit(__doc__)
    BGE = str(Path(sys.argv[2]).resolve())
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)
