// Picks the backend of EngineOptions' device and dtype, and splits a device list into workers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "bge/engine.h"

namespace bge {

// One device: "cpu", "cuda" (GPU 0), "cuda:N"; and "fp32", "fp16", "bf16", "int8" (empty: the device's default).
// Unknown names are kInvalidArgument, and so is a list (only the serving engine runs on several devices); a CUDA
// device in a build without CUDA, or a dtype the device lacks (fp16 on the CPU, int8 on a GPU), is
// kFailedPrecondition.
StatusOr<std::unique_ptr<Backend>> make_backend(const EngineOptions& options);

// A --device list, one entry per worker in order: "cuda" is every visible GPU ("cuda:0" ... "cuda:K-1"; "cuda:0"
// when none is, so that opening it says why); "cuda:0,1" is "cuda:0","cuda:1" (a bare index continues the list's
// CUDA entries); "cuda:0,cpu" and "cuda,cpu" mix. An entry may repeat (two workers sharing one device). Names are
// checked as make_backend checks them (kInvalidArgument naming the spec, and in a list the bad entry).
StatusOr<std::vector<std::string>> expand_devices(const std::string& spec);

// The dtype of each of n_devices workers: one dtype (or none: each device's default) for all, or a comma-separated
// list of one per worker ("fp16,bf16" for --device cuda:0,cpu; an empty entry is that device's default). A list of
// another length is kInvalidArgument; the names are checked when each backend is made.
StatusOr<std::vector<std::string>> expand_dtypes(const std::string& spec, size_t n_devices);

}  // namespace bge
