"""bge serve under load: 200 concurrent clients get the answers of single requests (bitwise on AVX-512, 1e-5 on AVX2), overload is 429 with Retry-After
(no lost or mixed-up answers), disconnecting clients and slow clients hurt nobody, SIGTERM drains; two workers
(--device cpu,cpu), one failing on purpose mid-load: every answer still right, /health degraded, /metrics per worker."""
import json
import socket
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import requests

from harness import Server, assert_close, wait_for


def text(i):
    return f"client {i} says " + "word " * (i % 23)


class ConcurrencyTest(unittest.TestCase):
    def test_200_concurrent_clients_match_single_requests_bit_for_bit(self):
        with Server("--max-wait-us", "5000") as server:
            # One at a time first: the reference answers.
            single = {i: server.post("/embed", {"inputs": text(i)}).json()[0] for i in range(200)}
            barrier = threading.Barrier(199)

            def client(i):
                barrier.wait()
                r = requests.post(server.url + "/embed", json={"inputs": [text(i), text(i + 1)]}, timeout=60)
                return i, r.status_code, r.json()

            with ThreadPoolExecutor(200) as pool:
                results = list(pool.map(client, range(199)))
            for i, status, body in results:
                self.assertEqual(status, 200)
                assert_close(self, body[0], single[i], f"client {i}")
                assert_close(self, body[1], single[i + 1], f"client {i}")
            metrics = server.get("/metrics").text
            # Batching happened: fewer forward passes than inputs.
            batches = sum(float(l.split()[-1]) for l in metrics.splitlines() if l.startswith("bge_batches_total"))
            self.assertLess(batches, 200 + 2 * 199)
            self.assertEqual(server.stop(), 0)

    def test_overload_answers_429_with_retry_after_and_loses_nothing(self):
        # A batch waits 200 ms for company and at most 4 inputs may queue: a burst overflows.
        with Server("--max-queue", "4", "--max-wait-us", "200000", "--max-batch-requests", "64") as server:
            reference = {}
            for first in range(0, 40, 4):
                got = server.post("/embed", {"inputs": [text(i) for i in range(first, first + 4)]}).json()
                reference.update({first + k: v for k, v in enumerate(got)})

            def client(i):
                r = requests.post(server.url + "/embed", json={"inputs": text(i)}, timeout=60)
                return i, r

            with ThreadPoolExecutor(40) as pool:
                results = list(pool.map(client, range(40)))
            ok = [(i, r) for i, r in results if r.status_code == 200]
            refused = [r for _, r in results if r.status_code == 429]
            self.assertEqual(len(ok) + len(refused), 40)
            self.assertGreater(len(refused), 0)
            self.assertGreater(len(ok), 0)
            for r in refused:
                self.assertEqual(r.headers["Retry-After"], "1")
                self.assertEqual(r.json()["error_type"], "overloaded")
                self.assertIn("queue is full", r.json()["error"])
            for i, r in ok:
                assert_close(self, r.json()[0], reference[i], f"request {i}")
            self.assertEqual(server.stop(), 0)


class MultiWorkerTest(unittest.TestCase):
    def test_a_worker_failing_mid_load_loses_no_request(self):
        with Server("--max-wait-us", "2000") as reference:
            single = {i: reference.post("/embed", {"inputs": text(i)}).json()[0] for i in range(120)}
            self.assertEqual(reference.stop(), 0)
        # Worker 1 fails from its 3rd request batch on, while 40 clients send 3 requests each.
        with Server("--device", "cpu,cpu", "--max-batch-requests", "2", "--max-wait-us", "2000",
                    env={"BGE_TEST_FAIL_WORKER": "1@3"}) as server:
            self.assertIn("embedder worker 1 on cpu", "\n".join(server.lines))
            self.assertEqual(server.get("/health").json(), {"status": "ok"})

            def client(c):
                out = []
                for k in range(3):
                    i = 3 * c + k
                    r = requests.post(server.url + "/embed", json={"inputs": [text(i), text(119 - i)]}, timeout=60)
                    out.append((i, r.status_code, r.json()))
                return out

            with ThreadPoolExecutor(40) as pool:
                results = [row for rows in pool.map(client, range(40)) for row in rows]
            self.assertEqual(len(results), 120)
            for i, status, body in results:
                self.assertEqual(status, 200, body)
                self.assertEqual(len(body), 2)
                assert_close(self, body[0], single[i], f"request {i}")
                assert_close(self, body[1], single[119 - i], f"request {i}")
            health = server.get("/health")
            self.assertEqual(health.status_code, 200)
            self.assertEqual(health.json()["status"], "degraded")
            down = health.json()["unhealthy_workers"]
            # The reranker's worker 1 ran no request batch, so it has not failed.
            self.assertEqual([(w["model"], w["worker"], w["device"]) for w in down], [("embedder", 1, "cpu")])
            self.assertIn("injected failure", down[0]["error"])
            metrics = server.get("/metrics").text
            self.assertIn('bge_worker_healthy{model="embedder",worker="1",device="cpu"} 0', metrics)
            self.assertIn('bge_worker_failures_total{model="embedder",worker="1",device="cpu"} 1', metrics)
            self.assertIn('bge_worker_healthy{model="embedder",worker="0",device="cpu"} 1', metrics)
            self.assertEqual(server.stop(), 0)


class ConnectionTest(unittest.TestCase):
    def test_clients_that_hang_up_are_dropped_and_others_served(self):
        with Server("--max-wait-us", "300000") as server:
            body = json.dumps({"inputs": ["gone"]}).encode()
            for _ in range(5):
                s = socket.create_connection(("127.0.0.1", server.port))
                s.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                          + str(len(body)).encode() + b"\r\n\r\n" + body)
                s.close()
            self.assertEqual(server.post("/embed", {"inputs": "still here"}).status_code, 200)
            self.assertTrue(wait_for(lambda: 'outcome="cancelled"' in server.get("/metrics").text))
            self.assertEqual(server.stop(), 0)

    def test_slow_and_idle_clients_do_not_block_others(self):
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        n_idle = max(100, min(2000, hard - 100))  # thousands where the limits allow
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n_idle + 100), hard))
        with Server("--read-timeout", "0.5", "--idle-timeout", "20") as server:
            idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(n_idle)]
            slow = socket.create_connection(("127.0.0.1", server.port))
            slow.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\n")  # and never finishes its headers
            start = time.time()
            for _ in range(10):
                self.assertEqual(server.post("/embed", {"inputs": "quick"}).status_code, 200)
            self.assertLess(time.time() - start, 5)
            # The slow client is cut off after --read-timeout.
            slow.settimeout(5)
            self.assertEqual(slow.recv(100), b"")
            for s in idle:
                s.close()
            slow.close()
            self.assertEqual(server.stop(), 0)


class LifecycleTest(unittest.TestCase):
    def test_sigterm_finishes_requests_in_flight_then_exits_0(self):
        with Server("--max-wait-us", "500000", "--log-format", "json") as server:
            results = []

            def client():
                results.append(requests.post(server.url + "/embed", json={"inputs": "in flight"}, timeout=30))

            t = threading.Thread(target=client)
            t.start()
            self.assertTrue(wait_for(lambda: 'bge_queue_depth 1' in server.get("/metrics").text, 5))
            start = time.time()
            self.assertEqual(server.stop(), 0)
            t.join()
            self.assertLess(time.time() - start, 5)
            self.assertEqual(results[0].status_code, 200)
            self.assertEqual(len(results[0].json()[0]), 32)
            with self.assertRaises(requests.ConnectionError):
                requests.get(server.url + "/health", timeout=2)
            log = [json.loads(l) for l in server.access_log() if l.startswith("{")]
            self.assertTrue(any(l["path"] == "/embed" and l["status"] == 200 and l["inputs"] == 1 and l["tokens"] > 0
                                for l in log))
            self.assertTrue(any("draining" in l for l in server.lines))

    def test_a_request_past_its_deadline_is_504(self):
        with Server("--max-wait-us", "1000000", "--request-timeout", "0.2") as server:
            r = server.post("/embed", {"inputs": "slow"})
            self.assertEqual(r.status_code, 504, r.text)
            self.assertIn("deadline", r.json()["error"])
            self.assertEqual(server.stop(), 0)

    def test_bad_start_up_options_fail_clearly(self):
        import subprocess
        from harness import BINARY
        for args, words in ((["serve"], "--model"), (["serve", "--model", "/nonexistent"], "/nonexistent"),
                            (["serve", "--model", "x", "--api-key", "a", "--api-key-file", "b"], "not both")):
            out = subprocess.run([BINARY] + args, capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 1, args)
            self.assertIn(words, out.stderr)


if __name__ == "__main__":
    unittest.main()
