// Shared by the fuzz harnesses: a property check that aborts with a message, so libFuzzer (and
// the replay driver) report a broken invariant as a crash with the input that broke it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define EDDY_FUZZ_CHECK(condition)                                                             \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__,      \
                         #condition);                                                          \
            std::abort();                                                                      \
        }                                                                                      \
    } while (false)
