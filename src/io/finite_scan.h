// Finds NaN and Inf among stored weights (bge info --check-weights): damaged files load fine, then
// poison every output.
#pragma once

#include <cstdint>
#include <string>

#include "bge/status.h"
#include "io/tensor_file.h"

namespace bge::io {

// The flat index of the first NaN or Inf of a floating tensor (F32, F16, BF16), or -1; -1 for integer dtypes.
int64_t first_non_finite(const RawTensor& t);

// kDataLoss "tensor '<name>' in <file>: element <i> (index [a, b]) is NaN" (or Inf) at the first such element.
Status check_finite(const std::string& name, const RawTensor& t);

}  // namespace bge::io
