// clock.h - the host clocks, in nanoseconds.
#pragma once

#include <time.h>

#include <cstdint>

namespace ember {

inline int64_t clock_ns(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}
inline int64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
inline int64_t wall_ns() { return clock_ns(CLOCK_REALTIME); }

}  // namespace ember
