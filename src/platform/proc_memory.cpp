#include "platform/proc_memory.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace ember::platform {

namespace {

// Adds the anonymous bytes of the ranges in `which` (indices into ranges)
// from one smaps file.
void scan_smaps(const char* path, const std::vector<MemRange>& ranges,
                const std::vector<size_t>& which, std::vector<uint64_t>* out) {
    FILE* f = std::fopen(path, "re");
    if (!f) return;
    char line[512];
    long current = -1;  // index of the range the current mapping is in
    while (std::fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        // A mapping header: "lo-hi perms offset dev inode [path]".
        if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
            std::strchr(line, '-') < std::strchr(line, ' ')) {
            current = -1;
            for (size_t i : which)
                if (lo >= ranges[i].start && hi <= ranges[i].start + ranges[i].size)
                    current = static_cast<long>(i);
            continue;
        }
        if (current >= 0 && std::strncmp(line, "Anonymous:", 10) == 0)
            (*out)[static_cast<size_t>(current)] += std::strtoull(line + 10, nullptr, 10) * 1024;
    }
    std::fclose(f);
}

}  // namespace

std::vector<uint64_t> anonymous_bytes(const std::vector<MemRange>& ranges) {
    std::vector<uint64_t> out(ranges.size(), 0);
    std::map<int, std::vector<size_t>> by_pid;
    for (size_t i = 0; i < ranges.size(); ++i)
        if (ranges[i].size) by_pid[ranges[i].pid].push_back(i);
    for (const auto& [pid, which] : by_pid) {
        const std::string path =
            pid == 0 ? "/proc/self/smaps" : "/proc/" + std::to_string(pid) + "/smaps";
        scan_smaps(path.c_str(), ranges, which, &out);
    }
    return out;
}

}  // namespace ember::platform
