#include "runtime/device.h"

#include <charconv>
#include <string>

#include "backend/cpu/cpu_backend.h"
#ifdef BGE_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace bge {
namespace {

StatusOr<DType> parse_dtype(const std::string& name, bool gpu) {
    if (name.empty()) return gpu ? DType::kF16 : DType::kF32;
    if (name == "fp32") return DType::kF32;
    if (name == "fp16") return DType::kF16;
    if (name == "bf16") return DType::kBF16;
    return invalid_argument("dtype '" + name + "' is not one of fp32, fp16, bf16");
}

// "cuda" -> 0, "cuda:N" -> N; -1 for anything else.
int parse_cuda_index(const std::string& device) {
    if (device == "cuda") return 0;
    if (device.rfind("cuda:", 0) != 0 || device.size() == 5 || device.size() > 8) return -1;
    int index = -1;
    const char* end = device.data() + device.size();
    auto [ptr, ec] = std::from_chars(device.data() + 5, end, index);
    return ec == std::errc() && ptr == end && index >= 0 ? index : -1;
}

}  // namespace

StatusOr<std::unique_ptr<Backend>> make_backend(const EngineOptions& options) {
    if (options.device == "cpu") {
        BGE_ASSIGN_OR_RETURN(DType dtype, parse_dtype(options.dtype, false));
        if (dtype != DType::kF32) {
            return failed_precondition("dtype " + options.dtype + ": the CPU backend computes in fp32 only");
        }
        return make_cpu_backend(options.n_threads);
    }
    const int index = parse_cuda_index(options.device);
    if (index < 0) return invalid_argument("device '" + options.device + "' is not one of cpu, cuda, cuda:N");
    BGE_ASSIGN_OR_RETURN(DType dtype, parse_dtype(options.dtype, true));
#ifdef BGE_HAVE_CUDA
    return make_cuda_backend(index, dtype);
#else
    (void)dtype;
    return failed_precondition("device " + options.device +
                               ": this build has no CUDA backend (configure with -DBGE_CUDA=ON)");
#endif
}

}  // namespace bge
