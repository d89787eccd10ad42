#!/usr/bin/env python3
"""Writes the small checkpoint fixtures of tests/io/data/ with real torch / safetensors.

Usage: python3 tools/make_io_fixtures.py [out_dir]   (default: tests/io/data next to this repo's tools/)
The values are arange patterns that tests/io/torch_checkpoint_test.cc and safetensors_test.cc check exactly.
"""
import io
import pathlib
import sys
import zipfile

import torch
from safetensors.torch import save_file


def dtype_tensors():
    f32 = torch.arange(12, dtype=torch.float32).reshape(3, 4)  # 0..11
    return {
        "f32": f32,
        "f16": ((torch.arange(6, dtype=torch.float32) - 3) / 4).to(torch.float16).reshape(2, 3),  # -0.75..0.5
        "bf16": (torch.arange(5, dtype=torch.float32) * 0.5 - 1).to(torch.bfloat16),  # -1..1
        "f32_row1": f32[1],  # a view: shares f32's storage at element offset 4
        "scalar": torch.tensor(2.5),  # 0-dim
    }


class Embeddings(torch.nn.Module):
    """Like older transformers' XLMRobertaEmbeddings: a float weight next to persistent integer buffers
    (token_type_ids is I32 here, not I64, so that torch.IntStorage is covered too)."""

    def __init__(self, n_positions):
        super().__init__()
        self.word_embeddings = torch.nn.Embedding(2, 3)
        with torch.no_grad():
            self.word_embeddings.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3) - 2)  # -2..3
        # Registered as older transformers did: persistent, so it lands in the state dict.
        self.register_buffer("position_ids", torch.arange(n_positions).expand((1, -1)))  # I64 [1, n]
        self.register_buffer("token_type_ids", torch.tensor([-7, 0, 2**31 - 1], dtype=torch.int32))  # I32 [3]


def buffer_state_dict():
    model = torch.nn.Module()
    model.embeddings = Embeddings(514)
    return model.state_dict()  # embeddings.{word_embeddings.weight, position_ids, token_type_ids}


def main():
    default = pathlib.Path(__file__).resolve().parent.parent / "tests/io/data"
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default
    out.mkdir(parents=True, exist_ok=True)

    # A plain dict; the archive prefix is the file stem, "torch_dtypes".
    torch.save(dtype_tensors(), out / "torch_dtypes.pt")

    # A module's state dict (an OrderedDict with _metadata set by BUILD), saved through a buffer, so
    # the archive prefix is "archive", not the file stem: like BGE-M3's sparse_linear.pt.
    linear = torch.nn.Linear(4, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.arange(4, dtype=torch.float32).reshape(1, 4) / 8)  # 0, .125, .25, .375
        linear.bias.fill_(0.5)
    buf = io.BytesIO()
    torch.save(linear.state_dict(), buf)
    (out / "linear_archive_prefix.pt").write_bytes(buf.getvalue())

    # The pre-1.6 format, which the reader refuses with a hint.
    torch.save(dtype_tensors(), out / "legacy.pt", _use_new_zipfile_serialization=False)

    # A zip whose data.pkl would run os.system("touch /tmp/bge_io_pwned") in pickle.load:
    # PROTO 2, GLOBAL 'os system', BINUNICODE cmd, TUPLE1, REDUCE, STOP. Never unpickle it with Python.
    cmd = b"touch /tmp/bge_io_pwned"
    evil = b"\x80\x02cos\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd + b"\x85R."
    with zipfile.ZipFile(out / "malicious.pt", "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("malicious/data.pkl", evil)
        z.writestr("malicious/version", "3\n")

    t = dtype_tensors()
    save_file({k: t[k] for k in ("f32", "f16", "bf16")}, str(out / "dtypes.safetensors"), metadata={"format": "pt"})

    # Integer buffers saved by torch.save (LongStorage, IntStorage) next to a float weight.
    torch.save(buffer_state_dict(), out / "int_buffers.pt")

    # The same in safetensors, plus dtypes the reader checks and leaves out.
    sd = {k: v.contiguous() for k, v in buffer_state_dict().items()}
    sd["big_i64"] = torch.tensor([-1, 2**40 + 3], dtype=torch.int64)
    sd["skipped_f64"] = torch.arange(3, dtype=torch.float64)
    sd["skipped_bool"] = torch.tensor([True, False])
    sd["skipped_u8"] = torch.arange(5, dtype=torch.uint8)
    save_file(sd, str(out / "int_buffers.safetensors"), metadata={"format": "pt"})


if __name__ == "__main__":
    main()
