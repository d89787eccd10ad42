// oneDNN calls of the CPU backend that do not fail on valid arguments: a failure there is a bug or a broken
// install, reported on stderr before aborting.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

namespace bge::cpu {

// Prints "bge cpu backend: WHAT failed: DETAIL" and aborts.
[[noreturn]] void onednn_failed(const char* what, const char* detail);

// Runs `primitive` with `args` (built once by the caller; the C API avoids a map per call) on `stream` and waits.
void execute_or_die(const dnnl::primitive& primitive, const dnnl::stream& stream,
                    const std::vector<dnnl_exec_arg_t>& args, const char* what);

}  // namespace bge::cpu
