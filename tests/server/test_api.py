"""Every route of `bge serve` over loopback, the error paths, the official openai client, the API-key walk."""
import base64
import json
import math
import socket
import struct
import subprocess
import unittest

import jsonschema
import openai

from harness import BINARY, M3, Server, assert_close, cli_embed, cosine, wait_for

ALL_ROUTES = [
    ("POST", "/v1/embeddings"), ("GET", "/v1/models"),
    ("POST", "/embed"), ("POST", "/embed_sparse"), ("POST", "/embed_all"), ("POST", "/rerank"),
    ("POST", "/tokenize"), ("POST", "/decode"), ("GET", "/info"),
    ("POST", "/v1/rerank"), ("POST", "/v2/rerank"),
    ("POST", "/m3/embed"), ("POST", "/m3/score"),
    ("GET", "/health"), ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/"),
]
OPEN_ROUTES = {"/health", "/metrics", "/"}  # / is the playground page: it holds no data


def raw_http(port, data, read=True):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        if not read:
            return b""
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--max-client-batch", "16", "--max-body-bytes", "200000")

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def error(self, r, status, tei=False):
        self.assertEqual(r.status_code, status, r.text)
        body = r.json()
        if tei:
            self.assertIsInstance(body["error"], str)
            self.assertIn(body["error_type"], {"validation", "overloaded", "backend", "unhealthy", "unauthorized"})
            return body["error"]
        self.assertEqual(set(body["error"]), {"message", "type", "param", "code"})
        return body["error"]["message"]

    def test_openai_embeddings_equal_the_cli(self):
        r = self.server.post("/v1/embeddings", {"input": ["hello world", "second text"], "model": "m3"})
        self.assertEqual(r.status_code, 200, r.text)
        body = r.json()
        self.assertEqual(body["object"], "list")
        self.assertEqual([d["index"] for d in body["data"]], [0, 1])
        assert_close(self, body["data"][0]["embedding"], cli_embed("hello world"))
        assert_close(self, body["data"][1]["embedding"], cli_embed("second text"))
        self.assertGreater(body["usage"]["prompt_tokens"], 4)
        self.assertEqual(body["usage"]["total_tokens"], body["usage"]["prompt_tokens"])

    def test_openai_token_ids_and_base64(self):
        ids = [t["id"] for t in self.server.post("/tokenize", {"inputs": "hello world",
                                                               "add_special_tokens": False}).json()[0]]
        by_ids = self.server.post("/v1/embeddings", {"input": ids}).json()["data"][0]["embedding"]
        by_batch = self.server.post("/v1/embeddings", {"input": [ids, ids]}).json()["data"][1]["embedding"]
        by_text = self.server.post("/v1/embeddings", {"input": "hello world"}).json()["data"][0]["embedding"]
        self.assertEqual(by_ids, by_text)
        self.assertEqual(by_batch, by_text)
        b64 = self.server.post("/v1/embeddings", {"input": "hello world", "encoding_format": "base64"}).json()
        raw = base64.b64decode(b64["data"][0]["embedding"])
        floats = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        self.assertEqual(floats, [struct.unpack("<f", struct.pack("<f", v))[0] for v in by_text])

    def test_official_openai_client(self):
        client = openai.OpenAI(base_url=self.server.url + "/v1", api_key="unused")
        want = cli_embed("hello world")
        want32 = [struct.unpack("<f", struct.pack("<f", v))[0] for v in want]  # exact float values
        r = client.embeddings.create(model="m3", input=["hello world", "second text"], encoding_format="float")
        self.assertEqual(len(r.data), 2)
        self.assertEqual(r.data[0].embedding, want)
        # Asked for explicitly, base64 comes back undecoded.
        r = client.embeddings.create(model="m3", input=["hello world"], encoding_format="base64")
        raw = base64.b64decode(r.data[0].embedding)
        self.assertEqual(list(struct.unpack(f"<{len(raw) // 4}f", raw)), want32)
        default = client.embeddings.create(model="m3", input="hello world")  # the client asks for base64
        self.assertEqual(default.data[0].embedding, want32)
        models = client.models.list()
        self.assertEqual({m.id for m in models.data}, {"m3", "reranker"})
        with self.assertRaises(openai.BadRequestError) as e:
            client.embeddings.create(model="m3", input="hello", dimensions=8)
        self.assertIn("Matryoshka", str(e.exception))

    def test_tei_routes(self):
        dense = self.server.post("/embed", {"inputs": "hello world"}).json()
        self.assertEqual(dense, [cli_embed("hello world")])
        self.assertEqual(len(self.server.post("/embed", {"inputs": ["a b", "c"]}).json()), 2)
        # normalize: false is the raw CLS vector: the same direction, its own length (not 1 on the test model).
        raw = self.server.post("/embed", {"inputs": "hello world", "normalize": False}).json()[0]
        norm = math.sqrt(sum(x * x for x in raw))
        self.assertGreater(abs(norm - 1), 1e-3)
        for r, d in zip(raw, dense[0]):
            self.assertAlmostEqual(r / norm, d, delta=1e-6)
        sparse = self.server.post("/embed_sparse", {"inputs": ["hello world"]}).json()
        self.assertTrue(sparse[0])
        self.assertEqual(set(sparse[0][0]), {"index", "value"})
        self.assertEqual([s["index"] for s in sparse[0]], sorted(s["index"] for s in sparse[0]))
        per_token = self.server.post("/embed_all", {"inputs": "hello world"}).json()
        n_tokens = len(self.server.post("/tokenize", {"inputs": "hello world"}).json()[0])
        self.assertEqual(len(per_token[0]), n_tokens - 1)  # ColBERT vectors: <s> dropped
        ranked = self.server.post("/rerank", {"query": "panda", "texts": ["a", "bear bear", "c d e"],
                                              "return_text": True}).json()
        self.assertEqual(sorted(r["index"] for r in ranked), [0, 1, 2])
        self.assertEqual([r["score"] for r in ranked], sorted((r["score"] for r in ranked), reverse=True))
        self.assertTrue(all(0 < r["score"] < 1 and "text" in r for r in ranked))
        raw = self.server.post("/rerank", {"query": "panda", "texts": ["a"], "raw_scores": True}).json()
        self.assertFalse("text" in raw[0])
        tokens = self.server.post("/tokenize", {"inputs": ["hello world", "x"]}).json()
        self.assertEqual(tokens[0][0], {"id": 0, "text": "<s>", "special": True, "start": None, "stop": None})
        self.assertEqual(tokens[0][-1], {"id": 2, "text": "</s>", "special": True, "start": None, "stop": None})
        # Offsets and ids as `bge tokenize --offsets` gives them (checked against tokenizers in tests/tokenizer).
        cli = json.loads(subprocess.run([BINARY, "tokenize", "--offsets", "--model", M3],
                                        input='"hello world"\n', capture_output=True, text=True, check=True).stdout)
        self.assertEqual([t["id"] for t in tokens[0]], cli["ids"])
        for t, (start, stop), seq in zip(tokens[0], cli["offsets"], cli["sequence"]):
            if seq >= 0:
                self.assertEqual((t["start"], t["stop"], t["text"]), (start, stop, "hello world"[start:stop]))
        # /decode: tokenizers' decode of those ids (the tokenizer tests compare it with tokenizers itself).
        ids = [t["id"] for t in tokens[0]]
        self.assertEqual(self.server.post("/decode", {"ids": ids}).json(), ["hello world"])
        part = self.server.post("/decode", {"ids": ids[1:3]}).json()
        self.assertEqual(len(part), 1)
        self.assertTrue("hello world".startswith(part[0]) and part[0], part)
        self.assertEqual(self.server.post("/decode", {"ids": [ids, ids[1:3]], "skip_special_tokens": False}).json(),
                         ["<s> hello world</s>", part[0]])
        info = self.server.get("/info").json()
        self.assertEqual((info["device"], info["dtype"], info["model_dtype"]), ("cpu", "F32", "float32"))
        self.assertEqual(info["model_type"], {"embedding": {"pooling": "cls"}})
        self.assertEqual(info["max_input_length"], 128)
        self.assertEqual(info["max_client_batch_size"], 16)
        self.assertEqual(self.server.get("/health").status_code, 200)

    def test_cohere_jina_rerank(self):
        for path in ("/v1/rerank", "/v2/rerank"):
            body = {"query": "panda", "documents": ["a", {"text": "bear bear"}, "c d e"], "top_n": 2,
                    "return_documents": True}
            r = self.server.post(path, body).json()
            self.assertEqual(len(r["results"]), 2)
            self.assertEqual(set(r["results"][0]), {"index", "relevance_score", "document"})
            self.assertGreater(r["usage"]["total_tokens"], 0)
            tei = self.server.post("/rerank", {"query": "panda", "texts": ["a", "bear bear", "c d e"]}).json()
            self.assertEqual([x["index"] for x in r["results"]], [x["index"] for x in tei[:2]])
            self.assertEqual([x["relevance_score"] for x in r["results"]], [x["score"] for x in tei[:2]])

    def test_m3_routes(self):
        r = self.server.post("/m3/embed", {"inputs": ["hello world"], "return_sparse": True,
                                           "return_colbert": True}).json()
        item = r["data"][0]
        self.assertEqual(item["dense"], cli_embed("hello world"))
        self.assertTrue(all(k.isdigit() for k in item["sparse"]))
        self.assertEqual(len(item["colbert"]), item["tokens"] - 1)
        only_dense = self.server.post("/m3/embed", {"inputs": "hello world"}).json()["data"][0]
        self.assertEqual(set(only_dense), {"index", "tokens", "dense"})
        s = self.server.post("/m3/score", {"query": "hello", "passages": ["hello world", "other"],
                                           "weights": [1, 1, 1]}).json()
        self.assertEqual(set(s), {"dense", "sparse", "colbert", "sparse+dense", "colbert+sparse+dense", "usage"})
        self.assertEqual(len(s["dense"]), 2)
        for i in range(2):
            combined = (s["dense"][i] + s["sparse"][i] + s["colbert"][i]) / 3
            self.assertAlmostEqual(s["colbert+sparse+dense"][i], combined, places=5)
            self.assertAlmostEqual(s["sparse+dense"][i], (s["dense"][i] + s["sparse"][i]) / 2, places=5)

    def test_bad_requests_are_clear_4xx(self):
        cases = [
            ("/v1/embeddings", b"{not json", 400, False),
            ("/v1/embeddings", b"[1, 2]", 400, False),
            ("/v1/embeddings", b'{"input": 5}', 400, False),
            ("/v1/embeddings", b'{"input": ""}', 400, False),
            ("/v1/embeddings", b'{"input": []}', 400, False),
            ("/v1/embeddings", b'{"input": [1e400]}', 400, False),
            ("/v1/embeddings", b'{"input": [[5, 99999999999999999999]]}', 400, False),
            ("/v1/embeddings", b'{"input": [[5, 999999]]}', 400, False),
            ("/v1/embeddings", b'{"input": "a", "encoding_format": "hex"}', 400, False),
            ("/v1/embeddings", b'{"input": "\xff\xfe"}', 400, False),
            ("/v1/embeddings", b"[" * 100000, 400, False),
            ("/embed", b'{"inputs": "a", "normalize": "yes"}', 400, True),
            ("/embed", b'{"inputs": "a", "truncation_direction": "up"}', 400, True),
            ("/decode", b'{"ids": [5, 99999]}', 400, True),
            ("/decode", b'{"ids": []}', 400, True),
            ("/decode", b'{"ids": [[5], 6]}', 400, True),
            ("/decode", b'{"ids": [-1]}', 400, True),
            ("/decode", b'{"ids": "5"}', 400, True),
            ("/decode", b'{"ids": ' + json.dumps([[5]] * 17).encode() + b"}", 413, True),
            ("/embed", b'{"inputs": ["a", 3]}', 400, True),
            ("/embed", b'{"inputs": ' + json.dumps(["x"] * 17).encode() + b"}", 413, True),
            ("/rerank", b'{"query": "", "texts": ["a"]}', 400, True),
            ("/v1/rerank", b'{"query": "q", "documents": ["a"], "top_n": -1}', 400, False),
            ("/v1/rerank", b'{"query": "q", "documents": [{"txt": "a"}]}', 400, False),
            ("/m3/score", b'{"query": "q", "passages": ["a"], "weights": [1, 2]}', 400, False),
            ("/m3/score", b'{"query": "q", "passages": ["a"], "weights": [0, 0, 0]}', 400, False),
            ("/m3/embed", b'{"inputs": "a", "return_dense": false}', 400, False),
        ]
        for path, body, status, tei in cases:
            with self.subTest(path=path, body=body[:60]):
                r = self.server.post(path, data=body, headers={"Content-Type": "application/json"})
                message = self.error(r, status, tei)
                self.assertTrue(message)
        msg = self.error(self.server.post("/embed", {"inputs": ["x"] * 17}), 413, tei=True)
        self.assertIn("16", msg)
        self.assertIn("--max-client-batch", msg)
        self.error(self.server.get("/nowhere"), 404)
        self.error(self.server.get("/v1/embeddings"), 405)

    def test_too_long_inputs_are_cut_or_refused(self):
        long_text = "word " * 500
        r = self.server.post("/embed", {"inputs": long_text})
        msg = self.error(r, 413, tei=True)
        self.assertIn("128", msg)
        self.assertEqual(self.server.post("/embed", {"inputs": long_text, "truncate": True}).status_code, 200)
        self.error(self.server.post("/v1/embeddings", {"input": long_text}), 413)
        self.error(self.server.post("/rerank", {"query": "q", "texts": [long_text]}), 413, tei=True)
        self.assertEqual(self.server.post("/rerank", {"query": "q", "texts": [long_text], "truncate": True})
                         .status_code, 200)

    def test_truncation_direction_left_keeps_the_tail(self):
        # Metaspace splits at spaces, so the ids of the text are the words' ids back to back and its last 126 ids
        # (128 with <s>, </s>) are known: the embedding of those ids as an OpenAI token-id input.
        def ids(text):
            return [t["id"] for t in self.server.post("/tokenize", {"inputs": text}).json()[0][1:-1]]
        filler, tail = ids("x"), ids("hello world")
        text = "x " * 300 + "hello world"
        kept = (filler * 300 + tail)[-126:]
        left = self.server.post("/embed", {"inputs": text, "truncate": True, "truncation_direction": "left"})
        self.assertEqual(left.status_code, 200, left.text)
        want = self.server.post("/v1/embeddings", {"input": [kept]}).json()["data"][0]["embedding"]
        assert_close(self, left.json()[0], want, "left-truncated /embed")
        right = self.server.post("/embed", {"inputs": text, "truncate": True}).json()[0]
        self.assertGreater(max(abs(a - b) for a, b in zip(right, want)), 1e-3)
        # Pairs keep the tail of each text (longest_first); the tokenizer tests check the ids against tokenizers.
        q = {"query": "q", "texts": [text], "truncate": True}
        left_score = self.server.post("/rerank", dict(q, truncation_direction="Left")).json()[0]["score"]
        right_score = self.server.post("/rerank", q).json()[0]["score"]
        self.assertNotEqual(left_score, right_score)
        self.error(self.server.post("/embed", {"inputs": text, "truncation_direction": "left"}), 413, tei=True)

    def test_body_limit_is_checked_before_the_body_is_read(self):
        # 100 MB announced, 1 KB sent: the answer comes at once, from the headers alone.
        head = (b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000000\r\n\r\n")
        reply = raw_http(self.server.port, head + b"{" + b" " * 1000)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:200])
        self.assertIn(b"--max-body-bytes", reply)
        big = {"inputs": ["word"] * 1000000}  # a 1e6-item list is far past the body limit
        self.error(self.server.post("/embed", big), 413, tei=True)
        garbage = raw_http(self.server.port, b"NOT HTTP AT ALL\r\n\r\n")
        self.assertTrue(garbage.startswith(b"HTTP/1.1 400"), garbage[:100])
        self.assertEqual(self.server.get("/health").status_code, 200)

    def test_expect_100_continue(self):
        body = json.dumps({"inputs": "hello world"}).encode()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 100 Continue"))
            s.sendall(body)
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:100])
        self.assertEqual(json.loads(reply.split(b"\r\n\r\n", 1)[1]), [cli_embed("hello world")])

    def test_request_id_keep_alive_and_access_log(self):
        import requests
        with requests.Session() as s:
            r1 = s.post(self.server.url + "/embed", json={"inputs": "a"}, headers={"X-Request-Id": "abc-123"})
            r2 = s.post(self.server.url + "/embed", json={"inputs": "b"})
        self.assertEqual(r1.headers["X-Request-Id"], "abc-123")
        self.assertRegex(r2.headers["X-Request-Id"], "^[0-9a-f]{16}$")
        self.assertTrue(any("abc-123" in l and '"/embed" 200 inputs=1' in l for l in self.server.access_log()))

    def test_metrics(self):
        self.server.post("/embed", {"inputs": ["a", "b"]})
        text = self.server.get("/metrics").text
        for name in ("bge_http_requests_total{route=\"/embed\",status=\"200\"}", "bge_request_duration_seconds_bucket",
                     "bge_queue_seconds_bucket", "bge_tokenize_seconds_bucket", "bge_inference_seconds_bucket",
                     "bge_batch_size_bucket", "bge_batch_tokens_bucket", "bge_queue_depth", "bge_tokens_total",
                     "bge_model_info{kind=\"embedder\""):
            self.assertIn(name, text)


def json_schema(node, components):
    """OpenAPI 3.0 schema -> JSON Schema: $ref resolved, `nullable` as a null type."""
    if isinstance(node, list):
        return [json_schema(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return json_schema(components[node["$ref"].split("/")[-1]], components)
    out = {k: json_schema(v, components) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def request_example(op, components):
    content = op["requestBody"]["content"]["application/json"]
    if "example" in content:
        return content["example"]
    schema = content["schema"]
    if "$ref" in schema:
        schema = components[schema["$ref"].split("/")[-1]]
    return schema["example"]


class DocsTest(unittest.TestCase):
    def test_every_curl_example_of_the_api_doc_answers_200(self):
        import os
        import re
        import shlex
        import requests
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "api.md")) as f:
            doc = f.read()
        commands = [c.replace("\\\n", " ") for c in re.findall(r"^curl .*?(?<!\\)$", doc, re.M | re.S)]
        self.assertGreaterEqual(len(commands), 11)
        with Server() as server:
            for command in commands:
                with self.subTest(command=command[:60]):
                    args = shlex.split(command.split("|")[0])
                    url = next(a for a in args if a.startswith("localhost:8080"))
                    path = url[len("localhost:8080"):]
                    data = args[args.index("-d") + 1] if "-d" in args else None
                    r = (requests.post(server.url + path, data=data, timeout=30) if data
                         else requests.get(server.url + path, timeout=30))
                    self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(server.stop(), 0)


class OpenApiTest(unittest.TestCase):
    def test_every_documented_route_answers_its_example_as_documented(self):
        with Server() as server:
            doc = server.get("/openapi.json").json()
            components = doc["components"]["schemas"]
            self.assertEqual({(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}, set(ALL_ROUTES))
            for path, ops in doc["paths"].items():
                for method, op in ops.items():
                    with self.subTest(path=path):
                        if method == "post":
                            r = server.post(path, request_example(op, components))
                        else:
                            r = server.get(path)
                        self.assertEqual(r.status_code, 200, r.text)
                        content = op["responses"]["200"]["content"]
                        if "application/json" in content:
                            schema = json_schema(content["application/json"]["schema"], components)
                            jsonschema.validate(r.json(), schema)
                        # An error answer matches the documented error shape too.
                        if method == "post" and "400" in op["responses"]:
                            bad = server.post(path, data=b"{}", headers={"Content-Type": "application/json"})
                            self.assertEqual(bad.status_code, 400)
                            schema = op["responses"]["400"]["content"]["application/json"]["schema"]
                            jsonschema.validate(bad.json(), json_schema(schema, components))
            self.assertEqual(server.stop(), 0)


class MutationTest(unittest.TestCase):
    def test_mutated_bodies_get_a_clear_answer_and_the_server_survives(self):
        import random
        rng = random.Random(7)
        with Server("--max-client-batch", "64") as server:
            doc = server.get("/openapi.json").json()
            components = doc["components"]["schemas"]
            examples = [(p, json.dumps(request_example(ops["post"], components)).encode())
                        for p, ops in doc["paths"].items() if "post" in ops]
            junk = [b"\x00", b"\xff", b"{", b"}", b"[", b"]", b'"', b"\\", b"1e999", b"-0", b"null", b",", b":",
                    b"\\ud800", b"\xf0\x28\x8c\x28", b"[" * 40, b"9" * 30]
            for i in range(400):
                path, body = examples[i % len(examples)]
                data = bytearray(body)
                for _ in range(rng.randint(1, 4)):
                    pos = rng.randrange(len(data) + 1)
                    op = rng.random()
                    if op < 0.4:
                        data[pos:pos] = rng.choice(junk)
                    elif op < 0.7:
                        del data[pos:pos + rng.randint(1, 8)]
                    else:
                        data[pos:pos + 1] = bytes([rng.randrange(256)])
                r = server.post(path, data=bytes(data), headers={"Content-Type": "application/json"})
                with self.subTest(i=i, path=path):
                    self.assertIn(r.status_code, (200, 400, 413), bytes(data)[:200])
                    if r.status_code != 200:
                        self.assertIn("error", r.json())
            self.assertEqual(server.get("/health").status_code, 200)
            self.assertEqual(server.stop(), 0)


class AuthTest(unittest.TestCase):
    def test_every_route_but_health_and_metrics_needs_the_key(self):
        with Server("--api-key", "s3cret") as server:
            bodies = {"/v1/embeddings": {"input": "a"}, "/embed": {"inputs": "a"}, "/embed_sparse": {"inputs": "a"},
                      "/embed_all": {"inputs": "a"}, "/rerank": {"query": "q", "texts": ["a"]},
                      "/tokenize": {"inputs": "a"}, "/decode": {"ids": [5]}, "/v1/rerank": {"query": "q", "documents": ["a"]},
                      "/v2/rerank": {"query": "q", "documents": ["a"]}, "/m3/embed": {"inputs": "a"},
                      "/m3/score": {"query": "q", "passages": ["a"]}}
            import requests
            for method, path in ALL_ROUTES:
                with self.subTest(path=path):
                    call = lambda headers: requests.request(method, server.url + path, json=bodies.get(path),
                                                            headers=headers, timeout=30)
                    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"},
                                    {"Authorization": "Bearer s3cretX"}, {"Authorization": "Bearer s3cre"}):
                        status = call(headers).status_code
                        if path in OPEN_ROUTES:
                            self.assertEqual(status, 200)
                        else:
                            self.assertEqual(status, 401, headers)
                    self.assertEqual(call({"Authorization": "Bearer s3cret"}).status_code, 200)
            self.assertEqual(server.stop(), 0)

    def test_key_file_and_environment(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".key") as f:
            f.write("from-file\n")
            f.flush()
            env = {"BGE_API_KEY_FILE": f.name, "BGE_MAX_CLIENT_BATCH": "3", "BGE_MAX_INPUT_TOKENS": "16",
                   "BGE_AUTO_TRUNCATE": "1"}
            with Server(env=env) as server:
                key = {"Authorization": "Bearer from-file"}
                self.assertEqual(server.post("/embed", {"inputs": "a"}).status_code, 401)
                ok = server.post("/embed", {"inputs": "a"}, headers=key)
                self.assertEqual(ok.status_code, 200)
                info = server.get("/info", headers=key).json()
                self.assertEqual(info["max_client_batch_size"], 3)
                self.assertEqual(info["max_input_length"], 16)
                self.assertTrue(info["auto_truncate"])
                long_text = "word " * 100
                cut = server.post("/m3/embed", {"inputs": long_text}, headers=key).json()
                self.assertEqual(cut["data"][0]["tokens"], 16)
                refused = server.post("/embed", {"inputs": long_text, "truncate": False}, headers=key)
                self.assertEqual(refused.status_code, 413)
                self.assertIn("16", refused.json()["error"])
                self.assertEqual(server.stop(), 0)


class DeviceTest(unittest.TestCase):
    def start(self, *args, env=None):
        import os
        return subprocess.run([BINARY, "serve", "--model", M3, "--port", "0", "--threads", "1", *args],
                              capture_output=True, text=True, timeout=60, env=dict(os.environ, **(env or {})))

    def test_device_and_dtype_errors_stop_start_up(self):
        cases = [
            (["--device", "tpu"], "device 'tpu' is not one of cpu, cuda, cuda:N"),
            (["--device", "cuda:x"], "device 'cuda:x'"),
            (["--dtype", "fp64"], "dtype 'fp64'"),
            (["--dtype", "fp16"], "dtype fp16: the CPU backend computes in"),
            ([], "device 'gpu'"),  # from BGE_DEVICE
        ]
        for args, message in cases:
            with self.subTest(args=args):
                r = self.start(*args, env={"BGE_DEVICE": "gpu"} if not args else None)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(message, r.stderr)
        # cuda without a usable GPU: a build without CUDA says so, a CUDA build on a machine without a GPU too.
        r = self.start("--device", "cuda")
        if "ready on" not in r.stderr:
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertRegex(r.stderr, r"bge: (device cuda: this build has no CUDA backend|cuda:0: no usable CUDA)")

    def test_cpu_device_and_dtype_are_served_and_reported(self):
        with Server("--device", "cpu", "--dtype", "fp32", models=False, env={"BGE_MODEL": M3}) as server:
            self.assertIn("(cpu, F32, CPU", next(l for l in server.lines if "ready on" in l))
            info = server.get("/info").json()
            self.assertEqual((info["device"], info["dtype"], info["model_dtype"]), ("cpu", "F32", "float32"))
            self.assertEqual(server.post("/embed", {"inputs": "hello world"}).json(), [cli_embed("hello world")])
            self.assertEqual(server.stop(), 0)

    def test_cpu_bf16_and_int8_are_served(self):
        # The server runs the CLI's engine in the dtype asked for: its vectors are the CLI's in that dtype, and
        # within the dtype's bound of fp32 (cpu_dtype_test's bounds on these fixtures: bf16 2e-4, int8 3e-3).
        text = "BGE M3 is an embedding model supporting dense retrieval."
        fp32 = cli_embed(text)
        for dtype, name, bound in (("bf16", "BF16", 2e-4), ("int8", "INT8", 3e-3)):
            with self.subTest(dtype=dtype), Server("--device", "cpu", "--dtype", dtype) as server:
                ready = next(l for l in server.lines if "ready on" in l)
                fallback = "F32 (bf16 asked; oneDNN has no bf16 matmul below AVX-512)"
                if dtype == "bf16" and fallback in ready:
                    name = fallback
                self.assertIn(f"(cpu, {name}, CPU", ready)
                self.assertEqual(server.get("/info").json()["dtype"], name)
                got = server.post("/embed", {"inputs": [text]}).json()[0]
                assert_close(self, got, cli_embed(text, dtype), dtype)
                self.assertGreaterEqual(cosine(got, fp32), 1 - bound, dtype)
                if dtype == "int8":  # quantized on every ISA (bf16 runs fp32 GEMMs below AVX-512)
                    self.assertNotEqual(got, fp32)
                scores = server.post("/rerank", {"query": "what is bge", "texts": ["an embedding model", "a cat"]})
                self.assertEqual(scores.status_code, 200, scores.text)
                self.assertEqual(server.stop(), 0)


class LoadingTest(unittest.TestCase):
    def test_health_is_503_while_the_models_download_and_load(self):
        # The model comes by hub name from a slow fake hub (tests/hub): the port is open and answers 503 until the
        # download, load and warm-up are done, then 200.
        import os
        import sys
        import tempfile
        from pathlib import Path
        import requests
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hub"))
        import fake_hub
        hub = fake_hub.FakeHub(fake_hub.golden_repos(Path(M3).parent))
        hub.slow = 0.1  # seconds per 64 KiB: the LFS files take a few seconds
        try:
            with tempfile.TemporaryDirectory() as tmp:
                env = {"HF_HOME": tmp + "/home", "HF_HUB_CACHE": tmp + "/cache", "HF_ENDPOINT": hub.endpoint,
                       "NO_PROXY": "127.0.0.1,localhost"}
                with Server("--model", "test-org/m3", models=False, env=env, wait_ready=False) as server:
                    health = requests.get(server.url + "/health", timeout=10)
                    self.assertEqual(health.status_code, 503, health.text)
                    self.assertIn("Retry-After", health.headers)
                    embed = requests.post(server.url + "/embed", json={"inputs": "hi"}, timeout=10)
                    self.assertEqual(embed.status_code, 503, embed.text)
                    self.assertIn("error", embed.json())
                    self.assertTrue(wait_for(lambda: any("ready on" in l for l in server.lines), 60), server.lines)
                    self.assertEqual(requests.get(server.url + "/health", timeout=10).status_code, 200)
                    self.assertEqual(server.post("/embed", {"inputs": "hello world"}).json(),
                                     [cli_embed("hello world")])
                    self.assertEqual(server.get("/info").json()["model_id"], "test-org/m3")
                    self.assertEqual(server.stop(), 0)
        finally:
            hub.close()


if __name__ == "__main__":
    unittest.main()
