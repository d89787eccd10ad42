// Picks the backend of EngineOptions' device and dtype.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "bge/engine.h"

namespace bge {

// "cpu", "cuda", "cuda:N" and "fp32", "fp16", "bf16", "int8" (empty: the device's default). Unknown names are
// kInvalidArgument; a CUDA device in a build without CUDA, or a dtype the device lacks (fp16 on the CPU, int8 on
// a GPU), is kFailedPrecondition.
StatusOr<std::unique_ptr<Backend>> make_backend(const EngineOptions& options);

}  // namespace bge
