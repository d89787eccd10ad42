"""End-to-end fidelity check of the `bge` CLI against transformers, on random models that are not in the repository.

Usage: python3 tools/check_fidelity.py --bge build/bge [--seed N] [--workdir DIR] [--device cpu|cuda]
       [--hidden 64 --layers 3 --heads 4 --ffn 128 --max-positions 130] [--variants ...] [--tol 1e-4]
Generates fresh model folders (make_test_models.py) with the seed, computes their float64 references
(make_references.py), runs `bge tokenize / embed / score / rerank` on the same inputs and compares: ids, token
counts, dense, sparse (same token ids, weights), colbert, M3 scores, logits and sigmoid scores.
Prints one summary line per folder with the max abs error per output; exits 1 with a diff on any mismatch.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict

import tokenizers
import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_references import compute_reference, write_json  # noqa: E402
from make_test_models import DEFAULT_SPM, VARIANTS, generate, size_args  # noqa: E402

SCORE_KEYS = ("dense", "sparse", "colbert", "sparse+dense", "colbert+sparse+dense")
MAX_SHOWN = 25  # mismatches printed per folder


class CliError(Exception):
    pass


class Comparison:
    """Collects max abs errors per output and the mismatches of one model folder."""

    def __init__(self, tol):
        self.tol = tol
        self.max_err = defaultdict(float)
        self.exact = {}  # output -> True while every exact comparison matched
        self.failures = []

    def fail(self, where, message):
        self.failures.append(f"{where}: {message}")

    def equal(self, output, where, expected, got):
        ok = expected == got
        self.exact[output] = self.exact.get(output, True) and ok
        if not ok:
            self.fail(where, f"{output} differ\n    expected {_short(expected)}\n    got      {_short(got)}"
                      + _first_difference(expected, got))
        return ok

    def close(self, output, where, expected, got):
        """Compares a float or a (nested) list of floats element by element."""
        if isinstance(expected, list):
            if not isinstance(got, list) or len(got) != len(expected):
                self.fail(where, f"{output}: expected {_shape(expected)} values, got {_shape(got)}")
                self.max_err[output] = float("inf")
                return
            for i, (e, g) in enumerate(zip(expected, got)):
                self.close(output, f"{where}[{i}]", e, g)
            return
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            self.fail(where, f"{output}: expected a number {expected!r}, got {got!r}")
            self.max_err[output] = float("inf")
            return
        err = abs(float(got) - expected)
        self.max_err[output] = max(self.max_err[output], err)
        if not err <= self.tol:
            self.fail(where, f"{output}: expected {expected!r} got {got!r} (|diff| {err:.3g} > {self.tol:g})")

    def sparse(self, where, expected, got):
        """Same token ids, then weights. An id on one side only is tolerated when its weight is within tol of 0
        (the relu's edge: a legitimate rounding difference), and reported otherwise."""
        if not isinstance(got, dict):
            self.fail(where, f"sparse: expected an object, got {_short(got)}")
            return
        for key in sorted(expected.keys() | got.keys(), key=_id_order):
            e, g = expected.get(key, 0.0), got.get(key, 0.0)
            if (key in expected) != (key in got) and max(e, g) > self.tol:
                side = "missing" if key in expected else "unexpected"
                self.fail(where, f"sparse: {side} token id {key} (weight {max(e, g)!r})")
                self.exact["sparse ids"] = False
                continue
            self.exact.setdefault("sparse ids", True)
            self.close("sparse", f"{where}[{key}]", e, g)

    def summary(self):
        parts = [f"{k} {'ok' if v else 'DIFFER'}" for k, v in self.exact.items()]
        parts += [f"{k} {v:.2e}" for k, v in self.max_err.items()]
        return " | ".join(parts)


def _id_order(key):
    return (0, int(key)) if key.isdigit() else (1, key)


def _shape(x):
    if isinstance(x, list):
        return f"{len(x)}" + (f"x{_shape(x[0])}" if x and isinstance(x[0], list) else "")
    return type(x).__name__


def _short(x, limit=160):
    s = json.dumps(x, ensure_ascii=False)
    return s if len(s) <= limit else s[:limit] + "..."


def _first_difference(expected, got):
    if not (isinstance(expected, list) and isinstance(got, list)):
        return ""
    for i, (e, g) in enumerate(zip(expected, got)):
        if e != g:
            return f"\n    first difference at index {i}: expected {e!r} got {g!r}"
    return f"\n    lengths {len(expected)} vs {len(got)}"


def _label(text, limit=40):
    s = json.dumps(text, ensure_ascii=False)
    return s if len(s) <= limit else s[:limit - 4] + '..."'


def run_cli(bge, args, inputs):
    """Runs `bge args...` with one JSON value per stdin line; returns the parsed output lines."""
    stdin = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in inputs)
    cmd = [bge] + args
    try:
        proc = subprocess.run(cmd, input=stdin.encode("utf-8"), capture_output=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CliError(f"{' '.join(cmd)}: {e}") from e
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        raise CliError(f"{' '.join(cmd)}: exit status {proc.returncode}\n    {stderr[-2000:]}")
    lines = [line for line in proc.stdout.decode("utf-8").splitlines() if line.strip()]
    if len(lines) != len(inputs):
        raise CliError(f"{' '.join(cmd)}: {len(inputs)} input lines, {len(lines)} output lines\n    {stderr[-2000:]}")
    try:
        return [json.loads(line) for line in lines]
    except json.JSONDecodeError as e:
        raise CliError(f"{' '.join(cmd)}: output is not JSON lines: {e}") from e


def _by_max_length(entries):
    groups = defaultdict(list)
    for e in entries:
        groups[e["max_length"]].append(e)
    return sorted(groups.items())


def _length_args(max_length, ref):
    return [] if max_length == ref["max_length"] else ["--max-length", str(max_length)]


def check_embedder(bge, model_dir, ref, device_args, cmp):
    name = ref["model"]
    defaults = [e for e in ref["embed"] if e["max_length"] == ref["max_length"]]
    # `bge tokenize` is compared with the ids the model sees at the default max length.
    for e, out in zip(defaults, run_cli(bge, ["tokenize", "--model", model_dir], [e["text"] for e in defaults])):
        cmp.equal("ids", f"{name} tokenize {_label(e['text'])}", e["ids"], out.get("ids"))
    for max_length, entries in _by_max_length(ref["embed"]):
        # The default batching and batches of 3 must give the same outputs (batch invariance).
        for batch_args in ([], ["--batch-size", "3"]):
            args = (["embed", "--model", model_dir, "--dense", "--sparse", "--colbert"]
                    + _length_args(max_length, ref) + batch_args + device_args)
            for e, out in zip(entries, run_cli(bge, args, [e["text"] for e in entries])):
                where = f"{name} embed {_label(e['text'])} (max_length {max_length}{' ' if batch_args else ''}" \
                        f"{' '.join(batch_args)})"
                cmp.equal("tokens", where, len(e["ids"]), out.get("tokens"))
                cmp.close("dense", where, e["dense"], out.get("dense"))
                cmp.sparse(where, e["sparse"], out.get("sparse"))
                cmp.close("colbert", where, e["colbert"], out.get("colbert"))
    weights = ",".join(repr(w) for w in ref["weights"])
    inputs = [{"query": s["query"], "passage": s["passage"]} for s in ref["score"]]
    outputs = run_cli(bge, ["score", "--model", model_dir, "--weights", weights] + device_args, inputs)
    for s, out in zip(ref["score"], outputs):
        for key in SCORE_KEYS:
            cmp.close(f"score:{key}", f"{name} score {_label(s['query'])} / {_label(s['passage'])}", s[key],
                      out.get(key))


def check_reranker(bge, model_dir, ref, device_args, cmp):
    name = ref["model"]
    defaults = [e for e in ref["rerank"] if e["max_length"] == ref["max_length"]]
    outputs = run_cli(bge, ["tokenize", "--model", model_dir], [[e["query"], e["passage"]] for e in defaults])
    for e, out in zip(defaults, outputs):
        cmp.equal("ids", f"{name} tokenize [{_label(e['query'])}, {_label(e['passage'])}]", e["ids"], out.get("ids"))
    for max_length, entries in _by_max_length(ref["rerank"]):
        args = ["rerank", "--model", model_dir] + _length_args(max_length, ref) + device_args
        inputs = [{"query": e["query"], "passage": e["passage"]} for e in entries]
        for e, out in zip(entries, run_cli(bge, args, inputs)):
            where = f"{name} rerank {_label(e['query'])} / {_label(e['passage'])} (max_length {max_length})"
            cmp.close("logit", where, e["logit"], out.get("logit"))
            cmp.close("score", where, e["score"], out.get("score"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bge", required=True, help="path of the bge binary")
    ap.add_argument("--seed", type=int, default=1, help="model seed (the committed fixtures use 0)")
    ap.add_argument("--workdir", help="where the models and references go (default: a temporary folder, removed "
                    "when everything passed)")
    ap.add_argument("--device", choices=("cpu", "cuda"), help="passed to bge embed/score/rerank as --device")
    ap.add_argument("--spm", default=DEFAULT_SPM)
    ap.add_argument("--tol", type=float, default=1e-4, help="max abs error allowed on every float output")
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    size_args(ap)
    args = ap.parse_args()
    bge = os.path.abspath(args.bge)
    if not os.access(bge, os.X_OK):
        sys.exit(f"check_fidelity: {args.bge} is not an executable file")
    workdir = args.workdir or tempfile.mkdtemp(prefix="bge_fidelity_")
    device_args = ["--device", args.device] if args.device else []
    print(f"check_fidelity: seed {args.seed}, hidden {args.hidden}, layers {args.layers}, heads {args.heads}, "
          f"ffn {args.ffn}, max positions {args.max_positions}, tol {args.tol:g}, workdir {workdir}; "
          f"torch {torch.__version__}, transformers {transformers.__version__}, tokenizers {tokenizers.__version__}",
          flush=True)

    failed = False
    for model_dir in generate(workdir, args.seed, args.spm, args, args.variants):
        ref = compute_reference(model_dir)
        write_json(ref, os.path.join(model_dir, "reference.json"))
        cmp = Comparison(args.tol)
        check = check_embedder if ref["kind"] == "embedder" else check_reranker
        try:
            check(bge, model_dir, ref, device_args, cmp)
        except CliError as e:
            cmp.fail(ref["model"], f"bge failed: {e}")
        for line in cmp.failures[:MAX_SHOWN]:
            print("  MISMATCH " + line)
        if len(cmp.failures) > MAX_SHOWN:
            print(f"  ... and {len(cmp.failures) - MAX_SHOWN} more mismatches")
        verdict = "FAIL" if cmp.failures else "PASS"
        print(f"{verdict} {ref['model']}: {cmp.summary()}", flush=True)
        failed |= bool(cmp.failures)
    print("check_fidelity: " + ("FAILED" if failed else "all outputs within tolerance"))
    if not failed and not args.workdir:
        shutil.rmtree(workdir)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
