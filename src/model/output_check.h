// A non-finite output is an error for its input, never a value (DESIGN.md, "Bad input and faults"):
// finite weights and inputs cannot produce one, so it means damaged weights.
#pragma once

#include "bge/engine.h"
#include "bge/status.h"

namespace bge {

// kDataLoss "the <output> output is not finite (NaN at element i); the model's weights may be damaged ..."
// for the first non-finite value of any output present in `e`.
Status check_finite(const Embedding& e);
Status check_finite(const RerankScore& r);

}  // namespace bge
