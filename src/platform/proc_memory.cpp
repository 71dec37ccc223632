#include "platform/proc_memory.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ember::platform {

std::vector<uint64_t> anonymous_bytes(const std::vector<MemRange>& ranges) {
    std::vector<uint64_t> out(ranges.size(), 0);
    if (ranges.empty()) return out;
    FILE* f = std::fopen("/proc/self/smaps", "re");
    if (!f) return out;
    char line[512];
    long current = -1;  // index of the range the current mapping is in
    while (std::fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        // A mapping header: "lo-hi perms offset dev inode [path]".
        if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
            std::strchr(line, '-') < std::strchr(line, ' ')) {
            current = -1;
            for (size_t i = 0; i < ranges.size(); ++i)
                if (lo >= ranges[i].start && hi <= ranges[i].start + ranges[i].size)
                    current = static_cast<long>(i);
            continue;
        }
        if (current >= 0 && std::strncmp(line, "Anonymous:", 10) == 0)
            out[static_cast<size_t>(current)] += std::strtoull(line + 10, nullptr, 10) * 1024;
    }
    std::fclose(f);
    return out;
}

}  // namespace ember::platform
