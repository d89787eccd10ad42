#include "runtime/device.h"

#include <algorithm>
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
    if (name == "int8") return failed_precondition("dtype int8: only the CPU backend computes in int8");
    return invalid_argument("dtype '" + name + "' is not one of fp32, fp16, bf16, int8");
}

StatusOr<CpuPrecision> parse_cpu_dtype(const std::string& name) {
    if (name.empty() || name == "fp32") return CpuPrecision::kF32;
    if (name == "bf16") return CpuPrecision::kBF16;
    if (name == "int8") return CpuPrecision::kInt8;
    if (name == "fp16") return failed_precondition("dtype fp16: the CPU backend computes in fp32, bf16 or int8");
    return invalid_argument("dtype '" + name + "' is not one of fp32, fp16, bf16, int8");
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

// "a,b,,c" -> {"a", "b", "", "c"}.
std::vector<std::string> split_commas(const std::string& spec) {
    std::vector<std::string> out;
    size_t begin = 0;
    while (true) {
        const size_t end = spec.find(',', begin);
        out.push_back(spec.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
        if (end == std::string::npos) return out;
        begin = end + 1;
    }
}

}  // namespace

StatusOr<std::unique_ptr<Backend>> make_backend(const EngineOptions& options) {
    if (options.device.find(',') != std::string::npos) {
        return invalid_argument("device '" + options.device +
                                "' names several devices; one is run here (bge serve runs on several)");
    }
    if (options.device == "cpu") {
        BGE_ASSIGN_OR_RETURN(CpuPrecision precision, parse_cpu_dtype(options.dtype));
        return make_cpu_backend(options.n_threads, precision);
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

StatusOr<std::vector<std::string>> expand_devices(const std::string& spec) {
    std::vector<std::string> out;
    for (std::string entry : split_commas(spec)) {
        const bool bare_index = !entry.empty() && entry.find_first_not_of("0123456789") == std::string::npos;
        if (bare_index && !out.empty() && out.back().rfind("cuda", 0) == 0) entry = "cuda:" + entry;
        if (entry != "cpu" && parse_cuda_index(entry) < 0) {
            if (entry == spec) return invalid_argument("device '" + spec + "' is not one of cpu, cuda, cuda:N");
            return invalid_argument("device list '" + spec + "': entry '" + entry +
                                    "' is not one of cpu, cuda, cuda:N");
        }
#ifdef BGE_HAVE_CUDA
        if (entry == "cuda") {  // every visible GPU; with none, loading cuda:0 says why
            const int count = std::max(cuda_device_count(), 1);
            for (int i = 0; i < count; ++i) out.push_back("cuda:" + std::to_string(i));
            continue;
        }
#endif
        out.push_back(entry);  // without CUDA, make_backend says that this build has none
    }
    return out;
}

StatusOr<std::vector<std::string>> expand_dtypes(const std::string& spec, size_t n_devices) {
    if (spec.find(',') == std::string::npos) return std::vector<std::string>(n_devices, spec);
    std::vector<std::string> out = split_commas(spec);
    if (out.size() != n_devices) {
        return invalid_argument("dtype list '" + spec + "' names " + std::to_string(out.size()) + " dtypes for " +
                                std::to_string(n_devices) + " devices (give one for all, or one per device)");
    }
    return out;
}

}  // namespace bge
