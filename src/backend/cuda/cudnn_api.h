// The cuDNN graph-API entry points the backend and its benchmarks use, looked up in libcudnn.so.9 at run time
// (dlopen), so that a machine without cuDNN still runs everything else.
#pragma once

#include <cudnn_graph.h>  // types and enums only: the functions come from dlopen
#include <dlfcn.h>

#include <string>
#include <type_traits>

namespace bge::cuda {

struct CudnnApi {
    void* library = nullptr;
    decltype(&cudnnGetVersion) get_version = nullptr;
    decltype(&cudnnGetLastErrorString) last_error = nullptr;
    decltype(&cudnnCreate) create = nullptr;
    decltype(&cudnnDestroy) destroy = nullptr;
    decltype(&cudnnSetStream) set_stream = nullptr;
    decltype(&cudnnBackendCreateDescriptor) create_descriptor = nullptr;
    decltype(&cudnnBackendDestroyDescriptor) destroy_descriptor = nullptr;
    decltype(&cudnnBackendSetAttribute) set_attribute = nullptr;
    decltype(&cudnnBackendGetAttribute) get_attribute = nullptr;
    decltype(&cudnnBackendFinalize) finalize = nullptr;
    decltype(&cudnnBackendExecute) execute = nullptr;

    bool load(std::string* why) {
        library = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
        if (library == nullptr) {
            *why = std::string("libcudnn.so.9 not found (") + dlerror() + ")";
            return false;
        }
        bool ok = true;
        const auto sym = [&](auto& f, const char* name) {
            f = reinterpret_cast<std::remove_reference_t<decltype(f)>>(dlsym(library, name));
            ok = ok && f != nullptr;
        };
        sym(get_version, "cudnnGetVersion");
        sym(last_error, "cudnnGetLastErrorString");
        sym(create, "cudnnCreate");
        sym(destroy, "cudnnDestroy");
        sym(set_stream, "cudnnSetStream");
        sym(create_descriptor, "cudnnBackendCreateDescriptor");
        sym(destroy_descriptor, "cudnnBackendDestroyDescriptor");
        sym(set_attribute, "cudnnBackendSetAttribute");
        sym(get_attribute, "cudnnBackendGetAttribute");
        sym(finalize, "cudnnBackendFinalize");
        sym(execute, "cudnnBackendExecute");
        if (!ok) *why = "libcudnn.so.9 lacks a graph-API function";
        return ok;
    }
};

}  // namespace bge::cuda
