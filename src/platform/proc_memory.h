// proc_memory.h - how much host memory instances use privately: the
// anonymous (copied-on-write) pages of their guest RAM mappings, from
// /proc/self/smaps. Pages still shared with the snapshot file are not
// counted: all instances of a snapshot share them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ember::platform {

struct MemRange {
    uintptr_t start = 0;
    size_t size = 0;
    int pid = 0;  // the process it is mapped in (a VM worker); 0: this one
};

// For each range, the bytes of anonymous memory in the mappings inside it.
// One pass over each process's smaps however many ranges, and at most one
// every 5 s per process (the figures may be that old: a worker with
// thousands of instances takes a good part of a second to read); zeros
// when smaps cannot be read.
std::vector<uint64_t> anonymous_bytes(const std::vector<MemRange>& ranges);

}  // namespace ember::platform
