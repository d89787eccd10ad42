#include "model/output_check.h"

#include <cmath>
#include <span>
#include <string>

namespace bge {
namespace {

Status non_finite(const char* output, float v, size_t index) {
    return data_loss(std::string("the ") + output + " output is not finite (" + (std::isnan(v) ? "NaN" : "Inf") +
                     " at element " + std::to_string(index) +
                     "); the model's weights may be damaged (bge info --check-weights scans them)");
}

Status check_values(const char* output, std::span<const float> values) {
    for (size_t i = 0; i < values.size(); ++i) {
        if (!std::isfinite(values[i])) return non_finite(output, values[i], i);
    }
    return ok_status();
}

}  // namespace

Status check_finite(const Embedding& e) {
    BGE_RETURN_IF_ERROR(check_values("dense", e.dense));
    for (size_t i = 0; i < e.sparse.size(); ++i) {
        if (!std::isfinite(e.sparse[i].weight)) return non_finite("sparse", e.sparse[i].weight, i);
    }
    return check_values("colbert", e.colbert);
}

Status check_finite(const RerankScore& r) {
    return check_values("logit", std::span<const float>(&r.logit, 1));
}

}  // namespace bge
