// Invariant checks: a failed BGE_CHECK is a bug, so it aborts with file:line (never used for bad input).
#pragma once

#include <cstdio>
#include <cstdlib>

#define BGE_CHECK(cond)                                                                   \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)
