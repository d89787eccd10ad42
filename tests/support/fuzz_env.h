// Fuzz-test settings from the environment, the same for every fuzz test: BGE_FUZZ_SECONDS (how long to run,
// else the test's default) and BGE_FUZZ_SEED (the random seed, else a fixed one, so a run can be repeated).
#pragma once

#include <cstdint>
#include <cstdlib>

namespace bge::testing {

inline double fuzz_seconds(double default_seconds) {
    const char* s = std::getenv("BGE_FUZZ_SECONDS");
    return s ? std::atof(s) : default_seconds;
}

inline uint64_t fuzz_seed() {
    const char* s = std::getenv("BGE_FUZZ_SEED");
    return s ? std::strtoull(s, nullptr, 0) : 0x5eed;
}

}  // namespace bge::testing
