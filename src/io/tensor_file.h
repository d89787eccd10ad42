// Tensors read from checkpoint files, as views into the file's memory mapping.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bge/status.h"
#include "core/dtype.h"
#include "io/mapped_file.h"

namespace bge::io {

// One stored tensor: contiguous row-major data of `dtype` (kF32/kF16/kBF16 weights, or kI64/kI32
// buffers such as `embeddings.position_ids`), which may be unaligned. `file` keeps the mapping alive.
struct RawTensor {
    DType dtype = DType::kF32;
    std::vector<int64_t> shape;
    const void* data = nullptr;
    size_t nbytes = 0;  // == product(shape) * dtype_size(dtype), checked by the readers
    std::shared_ptr<const MappedFile> file;

    int64_t numel() const;
    std::string shape_string() const;  // "[1024, 4096]"
};

using TensorMap = std::map<std::string, RawTensor>;

// Reads a .safetensors file: 8-byte little-endian header length, JSON header, data. Every entry's
// offsets and byte count are checked against the file. F32/F16/BF16/I64/I32 entries are read; entries
// of the format's other dtypes (F64, I8, U8, BOOL, ...) are checked, then left out of the map; a dtype
// name the format does not define is kUnimplemented. Anything malformed is kDataLoss naming the file
// (and the tensor where there is one).
StatusOr<TensorMap> read_safetensors(std::shared_ptr<const MappedFile> file);

// Reads a PyTorch zip checkpoint (torch.save, any archive-name prefix). The pickle is read by a
// restricted unpickler that knows only what state dicts use (Float/Half/BFloat16/Long/Int storages)
// and refuses any other global or opcode with kDataLoss/kUnimplemented; it never executes anything.
// A legacy (non-zip) pickle checkpoint is kUnimplemented with a message saying so.
StatusOr<TensorMap> read_torch_checkpoint(std::shared_ptr<const MappedFile> file);

// Opens `path` and dispatches on its content (zip magic -> torch, otherwise safetensors).
StatusOr<TensorMap> read_tensor_file(const std::string& path);

}  // namespace bge::io
