// A restricted unpickler for the data.pkl of a torch.save state dict. It knows only the opcodes and
// globals a state dict uses (dicts, tuples, ints, strings, Float/Half/BFloat16/Long/Int storages,
// _rebuild_tensor_v2), refuses everything else naming the opcode or global and its byte offset, and
// never executes anything.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bge/status.h"
#include "core/dtype.h"

namespace bge::io {

// One tensor of the state dict as the pickle describes it; its bytes are in the zip entry
// <prefix>/data/<storage_key>.
struct PickledTensor {
    std::string name;
    DType dtype = DType::kF32;  // the storage's element type: kF32, kF16, kBF16, kI64 or kI32
    std::string storage_key;
    int64_t storage_numel = 0;   // elements in the storage, as the persistent id says
    int64_t storage_offset = 0;  // in elements
    std::vector<int64_t> shape;  // contiguous row-major (checked against the pickled strides)
};

// Reads a pickle whose top-level object is a dict (or OrderedDict) of name -> tensor. Checks that
// every tensor is contiguous and lies inside its storage's declared element count. Errors name the
// byte offset: forbidden globals and unsupported opcodes are kUnimplemented, malformed pickles
// kDataLoss.
StatusOr<std::vector<PickledTensor>> unpickle_state_dict(std::span<const uint8_t> pickle);

}  // namespace bge::io
