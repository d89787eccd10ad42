"""CPU peers of `bge bench` in one run: bge.cpp fp32/bf16/int8 against ONNX Runtime fp32 and int8 and PyTorch fp32,
on the same BGE-M3-shaped model, the same synthetic inputs and the same cores, rounds interleaved; plus each engine's
fidelity against PyTorch fp32.

Usage: python3 bench/cpu_peer_bench.py --bge build/bge [--model DIR] [--threads 2 16] [--shapes 1x128 1x512 8x128
       32x128] [--rounds 3] [--iterations 5] [--engines ...] [--json OUT]
Without --model, a BGE-M3-shaped folder with random weights (24 layers, hidden 1024, 16 heads, FFN 4096; test
vocabulary; dense + sparse + colbert heads) is generated once under /tmp/bge-bench-m3 with tools/make_test_models.py.

Peers (the recipe of issue 8): the model with BGE-M3's three heads is exported by torch.onnx.export (opset 17,
dynamic batch and length), run by ONNX Runtime with ORT_ENABLE_ALL; int8 is onnxruntime.quantization.quantize_dynamic
(QInt8 weights, dynamic u8 activations) of that export. PyTorch runs transformers' XLMRobertaModel and the heads in
fp32 (and, as the low-precision yardstick of DESIGN.md, in bf16) under inference_mode. Every engine gets the same thread count (bge --threads, torch.set_num_threads, ORT
intra-op threads, OMP_NUM_THREADS) and is pinned (sched_setaffinity, as taskset) to the same cores: the first N of
this process's affinity. A round runs every engine on every shape, each engine in its own process; rounds repeat that, so slow
phases of the machine hit every engine alike; the table keeps each engine's best round (median of --iterations
calls after a warm-up each).

Fidelity (against PyTorch fp32, on texts of 5 to 512 tokens): dense cosine (worst), sparse top-20 id overlap (mean
fraction of PyTorch's 20 heaviest ids that the engine's 20 heaviest share), colbert cosine (worst per-token mean).
Speed ratios: each bge.cpp dtype against ORT int8 and ORT fp32, per shape and thread count.

Needs torch, transformers, onnx, onnxruntime (and onnxscript where torch's exporter asks for it); bench/requirements.txt.
A machine without internet gets them as wheels: see --help's epilog or the message printed when one is missing.
"""
import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_MODEL = "/tmp/bge-bench-m3"
FULL_SIZE = ["--hidden", "1024", "--layers", "24", "--heads", "16", "--ffn", "4096", "--max-positions", "8194"]
ENGINES = ["bge-fp32", "bge-bf16", "bge-int8", "ort-fp32", "ort-int8", "torch-fp32", "torch-bf16"]
NEEDED = ["torch", "transformers", "onnx", "onnxruntime", "numpy"]
WHEELS_HINT = ("On a machine with internet, for the target's Python (python3 --version there; X.Y below):\n"
               "  pip download -d wheels --only-binary=:all: --python-version X.Y --platform manylinux2014_x86_64 "
               "--platform manylinux_2_28_x86_64 onnx onnxruntime onnxscript\n"
               "then there: python3 -m pip install --no-index --find-links wheels onnx onnxruntime onnxscript")
FIDELITY_TEXTS = [
    "hello world",
    "BGE M3 is an embedding model supporting dense retrieval, lexical matching and multi-vector interaction.",
    "Der schnelle braune Fuchs springt über den faulen Hund, und die Katze sieht ihm dabei zu.",
    "Россия — самая большая страна в мире; её столица — Москва.",
    "日本の首都は東京です。京都は古い都でした。",
]


def synthetic_text():
    """The text `bge bench` uses (src/cli/cmd_bench.cc): truncation gives the exact length asked for."""
    words = ["Deutschland", "Россия", "日本"]
    return "".join(words[i % 3] + " " for i in range(9000))


def check_imports(names):
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        sys.exit(f"cpu_peer_bench: missing Python packages: {', '.join(missing)} (python {sys.version.split()[0]}).\n"
                 f"pip install -r bench/requirements.txt, or without internet:\n{WHEELS_HINT}")


def ensure_model(path):
    if not os.path.exists(os.path.join(path, "m3", "model.safetensors")):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_test_models.py"), path, "--seed", "0",
                        "--variants", "m3", *FULL_SIZE], check=True)
    return os.path.join(path, "m3")


def parse_shape(text):
    batch, tokens = text.lower().split("x")
    return int(batch), int(tokens)


# ---------------------------------------------------------------------------------------------------------------
# The Python engines (run in worker processes).

class M3(object):
    """XLMRobertaModel plus BGE-M3's heads as one torch module: (dense [b, H], sparse [b, n], colbert [b, n-1, C])."""

    @staticmethod
    def build(model_dir):
        import torch
        import transformers

        class Module(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = transformers.AutoModel.from_pretrained(model_dir, dtype=torch.float32,
                                                                      attn_implementation="eager")
                hidden = self.encoder.config.hidden_size
                colbert = torch.load(os.path.join(model_dir, "colbert_linear.pt"), weights_only=True)
                self.sparse = torch.nn.Linear(hidden, 1)
                self.sparse.load_state_dict(torch.load(os.path.join(model_dir, "sparse_linear.pt"), weights_only=True))
                self.colbert = torch.nn.Linear(hidden, colbert["weight"].shape[0])
                self.colbert.load_state_dict(colbert)

            def forward(self, input_ids, attention_mask):
                h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                dense = torch.nn.functional.normalize(h[:, 0], dim=-1)
                sparse = torch.relu(self.sparse(h)).squeeze(-1)
                colbert = torch.nn.functional.normalize(self.colbert(h[:, 1:]), dim=-1)
                return dense, sparse, colbert

        return Module().eval()


def export_onnx(model_dir, work_dir):
    """fp32 and int8 ONNX files of the model with its heads (cached in work_dir)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    os.makedirs(work_dir, exist_ok=True)
    fp32, int8 = os.path.join(work_dir, "m3.onnx"), os.path.join(work_dir, "m3-int8.onnx")
    if not os.path.exists(fp32):
        module = M3.build(model_dir)
        ids = torch.tensor([[0] + [5] * 14 + [2]] * 2)
        kwargs = dict(input_names=["input_ids", "attention_mask"], output_names=["dense", "sparse", "colbert"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
                                    "sparse": {0: "batch", 1: "length"}, "colbert": {0: "batch", 1: "length1"},
                                    "dense": {0: "batch"}}, opset_version=17)
        try:  # the TorchScript exporter (the recipe's); torch versions without it use the dynamo one
            torch.onnx.export(module, (ids, torch.ones_like(ids)), fp32, dynamo=False, **kwargs)
        except Exception as e:  # noqa: BLE001 - report and try the other exporter
            print(f"torch.onnx.export(dynamo=False) failed ({e}); trying dynamo=True", file=sys.stderr)
            torch.onnx.export(module, (ids, torch.ones_like(ids)), fp32, dynamo=True, external_data=True, **kwargs)
    if not os.path.exists(int8):
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
    return fp32, int8


def make_runner(engine, model_dir, work_dir, threads):
    """A function (ids [b, n] int64 numpy) -> (dense, sparse, colbert) numpy arrays, for a Python engine."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    if engine.startswith("torch"):
        module = M3.build(model_dir)
        if engine == "torch-bf16":  # the yardstick for low precision (DESIGN.md): transformers in that dtype
            module = module.to(torch.bfloat16)

        def run(ids):
            with torch.inference_mode():
                t = torch.from_numpy(ids)
                return tuple(x.float().numpy() for x in module(t, torch.ones_like(t)))
        return run
    import onnxruntime as ort
    fp32, int8 = export_onnx(model_dir, work_dir)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(int8 if engine == "ort-int8" else fp32, options, providers=["CPUExecutionProvider"])

    def run(ids):
        return tuple(session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)}))
    return run


def worker(args):
    """Times one Python engine on every shape (prints JSON), or writes its outputs for the fidelity texts."""
    import numpy as np
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(args.model)
    run = make_runner(args.worker, args.model, args.work_dir, args.threads[0])
    if args.outputs:
        result = []
        for text in fidelity_texts():
            ids = np.array([tok(text, truncation=True, max_length=512)["input_ids"]], dtype=np.int64)
            dense, sparse, colbert = run(ids)
            result.append({"ids": ids[0].tolist(), "dense": dense[0].tolist(), "sparse": sparse[0].tolist(),
                           "colbert": colbert[0].tolist()})
        with open(args.outputs, "w") as f:
            json.dump(result, f)
        return
    timings = {}
    for shape in args.shapes:
        batch, tokens = parse_shape(shape)
        enc = tok([synthetic_text()] * batch, truncation=True, max_length=tokens)["input_ids"]
        ids = np.array(enc, dtype=np.int64)
        assert ids.shape == (batch, tokens), ids.shape
        run(ids)  # warm-up
        times = []
        for _ in range(args.iterations):
            start = time.perf_counter()
            run(ids)
            times.append(time.perf_counter() - start)
        timings[shape] = batch * tokens / statistics.median(times)
    print(json.dumps(timings))


def fidelity_texts():
    long = synthetic_text()
    return FIDELITY_TEXTS + [" ".join(FIDELITY_TEXTS) * 3, long[:600], long]  # up to 512 tokens (truncated)


# ---------------------------------------------------------------------------------------------------------------
# The driver.

def pinned(threads):
    """subprocess.run arguments that pin a child to the first `threads` cores of ours, with OMP_NUM_THREADS."""
    cores = sorted(os.sched_getaffinity(0))[:threads]
    return {"env": dict(os.environ, OMP_NUM_THREADS=str(threads)),
            "preexec_fn": lambda: os.sched_setaffinity(0, cores)}


def time_bge(args, dtype, threads, shape):
    batch, tokens = parse_shape(shape)
    cmd = [args.bge, "bench", "--model", args.model, "--dtype", dtype, "--tokens", str(tokens), "--batch",
                    str(batch), "--iterations", str(args.iterations), "--warmup", "1", "--threads", str(threads),
                    "--quiet"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **pinned(threads)).stdout
    return json.loads(out.strip().splitlines()[-1])["tokens_per_s"]


def time_python(args, engine, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--model", args.model,
                    "--work-dir", args.work_dir, "--threads", str(threads), "--iterations", str(args.iterations),
                    "--shapes", *args.shapes]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **pinned(threads)).stdout
    return json.loads(out.strip().splitlines()[-1])


def bge_outputs(args, dtype):
    cmd = [args.bge, "embed", "--model", args.model, "--dtype", dtype, "--max-length", "512", "--quiet"]
    lines = "".join(json.dumps(t) + "\n" for t in fidelity_texts())
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, input=lines).stdout
    return [json.loads(line) for line in out.splitlines()]


def python_outputs(args, engine):
    os.makedirs(args.work_dir, exist_ok=True)
    path = os.path.join(args.work_dir, f"outputs-{engine}.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--model", args.model, "--work-dir",
           args.work_dir, "--threads", str(max(args.threads)), "--outputs", path]
    subprocess.run(cmd, check=True)
    with open(path) as f:
        raw = json.load(f)
    # FlagEmbedding's sparse weights: max per token id, specials dropped, only positive ones.
    result = []
    for r in raw:
        sparse = {}
        for i, w in zip(r["ids"], r["sparse"]):
            if i > 3 and w > 0:
                sparse[str(i)] = max(sparse.get(str(i), 0.0), w)
        result.append({"dense": r["dense"], "sparse": sparse, "colbert": r["colbert"]})
    return result


def fidelity(ref, got):
    import numpy as np

    dense, overlap, colbert = [], [], []
    for r, g in zip(ref, got):
        a, b = np.array(r["dense"]), np.array(g["dense"])
        dense.append(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
        top_r = sorted(r["sparse"], key=lambda k: -r["sparse"][k])[:20]
        top_g = sorted(g["sparse"], key=lambda k: -g["sparse"][k])[:20]
        if top_r:
            overlap.append(len(set(top_r) & set(top_g)) / len(top_r))
        ca, cb = np.array(r["colbert"]), np.array(g["colbert"])
        assert ca.shape == cb.shape, (ca.shape, cb.shape)
        cos = (ca * cb).sum(-1) / np.linalg.norm(ca, axis=-1) / np.linalg.norm(cb, axis=-1)
        colbert.append(float(cos.mean()))
    return {"dense_cos_min": min(dense), "sparse_top20_overlap": statistics.mean(overlap) if overlap else None,
            "colbert_cos_min": min(colbert)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=WHEELS_HINT,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bge", default=os.path.join(ROOT, "build", "bge"))
    ap.add_argument("--model")
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 16])
    ap.add_argument("--shapes", nargs="+", default=["1x128", "1x512", "8x128", "32x128"], help="BATCHxTOKENS")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--engines", nargs="+", choices=ENGINES, default=ENGINES)
    ap.add_argument("--work-dir", default="/tmp/bge-cpu-peer", help="ONNX exports and outputs")
    ap.add_argument("--no-fidelity", action="store_true")
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--worker", choices=[e for e in ENGINES if not e.startswith("bge")], help=argparse.SUPPRESS)
    ap.add_argument("--outputs", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    check_imports(NEEDED)
    args.model = args.model or ensure_model(BENCH_MODEL)
    too_many = [t for t in args.threads if t > len(os.sched_getaffinity(0))]
    if too_many:
        sys.exit(f"cpu_peer_bench: {too_many} threads asked, this process may use {len(os.sched_getaffinity(0))} "
                 "cores")
    if any(e.startswith("ort") for e in args.engines):
        export_onnx(args.model, args.work_dir)

    import onnxruntime
    import torch
    import transformers

    speed = {}  # (engine, threads, shape) -> best tokens/s over rounds
    for round_index in range(args.rounds):
        for threads in args.threads:
            for engine in args.engines:
                if engine.startswith("bge"):
                    got = {s: time_bge(args, engine[4:], threads, s) for s in args.shapes}
                else:
                    got = time_python(args, engine, threads)
                for shape, value in got.items():
                    key = (engine, threads, shape)
                    speed[key] = max(speed.get(key, 0.0), value)
                print(f"round {round_index + 1}/{args.rounds}, {threads} threads, {engine}: "
                      + ", ".join(f"{s} {v:.0f}" for s, v in got.items()), file=sys.stderr)

    quality = {}
    if not args.no_fidelity:
        ref = python_outputs(args, "torch-fp32")
        for engine in args.engines:
            if engine == "torch-fp32":
                continue
            got = bge_outputs(args, engine[4:]) if engine.startswith("bge") else python_outputs(args, engine)
            quality[engine] = fidelity(ref, got)

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               "?")
    print(f"\nmodel {args.model}; CPU {cpu}; torch {torch.__version__}, transformers {transformers.__version__}, "
          f"onnxruntime {onnxruntime.__version__}; best of {args.rounds} interleaved rounds, median of "
          f"{args.iterations} calls; tokens/s\n")
    if speed:
        print("| threads, batch x tokens | " + " | ".join(args.engines) + " |")
        print("|---|" + "---|" * len(args.engines))
        for threads in args.threads:
            for shape in args.shapes:
                cells = [f"{speed[(e, threads, shape)]:.0f}" for e in args.engines]
                print(f"| {threads}, {shape.replace('x', ' x ')} | " + " | ".join(cells) + " |")
    ratios = {}
    bge_engines = [e for e in args.engines if e.startswith("bge")]
    for peer in [e for e in ("ort-int8", "ort-fp32") if e in args.engines and speed]:
        print(f"\nbge.cpp / {peer}:\n")
        print("| threads, batch x tokens | " + " | ".join(bge_engines) + " |")
        print("|---|" + "---|" * len(bge_engines))
        for threads in args.threads:
            for shape in args.shapes:
                row = {e: speed[(e, threads, shape)] / speed[(peer, threads, shape)] for e in bge_engines}
                ratios[f"{peer} {threads} {shape}"] = row
                print(f"| {threads}, {shape.replace('x', ' x ')} | " + " | ".join(f"{v:.2f}x" for v in row.values())
                      + " |")
    if quality:
        print("\nfidelity against PyTorch fp32:\n")
        print("| engine | dense cos (min) | sparse top-20 overlap (mean) | colbert cos (min of per-text means) |")
        print("|---|---|---|---|")
        for engine, q in quality.items():
            overlap = "-" if q["sparse_top20_overlap"] is None else f"{q['sparse_top20_overlap']:.3f}"
            print(f"| {engine} | {q['dense_cos_min']:.6f} | {overlap} | {q['colbert_cos_min']:.6f} |")
    result = {"model": args.model, "cpu": cpu, "speed": {f"{e} {t} {s}": v for (e, t, s), v in speed.items()},
              "ratios": ratios, "fidelity": quality}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
