// Damaged copies of the golden model folders: special files in place of a model file, non-finite
// values written into a stored tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bge::testing {

// Copies tests/golden/<name> into <dir>/<name> and returns that path.
std::string copy_golden(const std::string& name, const std::string& dir);

// Overwrites element `index` of tensor `tensor` in the weight file `path` (safetensors or torch zip) with
// `value` in the tensor's dtype (F32, F16 or BF16: NaN and +-Inf map exactly).
void poison(const std::string& path, const std::string& tensor, int64_t index, float value);

// The names of the non-empty floating tensors in `path`.
std::vector<std::string> floating_tensors(const std::string& path);

// The number of elements of `tensor` in `path`.
int64_t numel_of(const std::string& path, const std::string& tensor);

}  // namespace bge::testing
