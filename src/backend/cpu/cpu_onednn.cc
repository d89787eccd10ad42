#include "backend/cpu/cpu_onednn.h"

#include <oneapi/dnnl/dnnl_debug.h>

#include <cstdio>
#include <cstdlib>

namespace bge::cpu {

void onednn_failed(const char* what, const char* detail) {
    std::fprintf(stderr, "bge cpu backend: %s failed: %s\n", what, detail);
    std::abort();
}

void execute_or_die(const dnnl::primitive& primitive, const dnnl::stream& stream,
                    const std::vector<dnnl_exec_arg_t>& args, const char* what) {
    const dnnl_status_t status =
        dnnl_primitive_execute(primitive.get(), stream.get(), static_cast<int>(args.size()), args.data());
    if (status != dnnl_success) onednn_failed(what, dnnl_status2str(status));
    if (dnnl_stream_wait(stream.get()) != dnnl_success) onednn_failed(what, "stream wait");
}

}  // namespace bge::cpu
