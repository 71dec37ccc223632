#include "platform/proc_memory.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

namespace ember::platform {

namespace {

// One mapping of a process: [lo, hi) and its anonymous bytes.
struct Mapping {
    uintptr_t lo, hi;
    uint64_t anon;
};

// Every mapping in one smaps file, sorted by address (the kernel lists them
// in order).
std::vector<Mapping> read_smaps(const std::string& path) {
    std::vector<Mapping> out;
    FILE* f = std::fopen(path.c_str(), "re");
    if (!f) return out;
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        // A mapping header: "lo-hi perms offset dev inode [path]".
        if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
            std::strchr(line, '-') < std::strchr(line, ' ')) {
            out.push_back({lo, hi, 0});
            continue;
        }
        if (!out.empty() && std::strncmp(line, "Anonymous:", 10) == 0)
            out.back().anon += std::strtoull(line + 10, nullptr, 10) * 1024;
    }
    std::fclose(f);
    return out;
}

// Reading smaps walks the page tables of every mapping of the process: with
// thousands of instances in a VM worker one read costs a good part of a
// second. So a process's mappings are read at most once per kTtl, whoever
// asks (status, /metrics, the console): the figures may be that old.
constexpr auto kTtl = std::chrono::seconds(5);

struct Cached {
    std::chrono::steady_clock::time_point at;
    std::vector<Mapping> maps;
};

std::mutex cache_mu;
std::map<int, Cached>& cache() {
    static auto* c = new std::map<int, Cached>();  // never destroyed: used at exit
    return *c;
}

bool maps_start_at(const std::vector<Mapping>& maps, uintptr_t a) {
    auto it = std::lower_bound(maps.begin(), maps.end(), a,
                               [](const Mapping& m, uintptr_t x) { return m.lo < x; });
    return it != maps.end() && it->lo == a;
}

// The mappings of pid, from the cache when it has them all: a range that
// starts where no cached mapping does is an instance made since, so the
// file is read again.
std::vector<Mapping> mappings_of(int pid, const std::vector<MemRange>& ranges,
                                 const std::vector<size_t>& which) {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(cache_mu);
        // Drop what is too old, the entries of processes gone among them.
        std::erase_if(cache(), [&](const auto& e) { return now - e.second.at >= kTtl; });
        if (auto it = cache().find(pid); it != cache().end()) {
            const auto& maps = it->second.maps;
            if (std::all_of(which.begin(), which.end(),
                            [&](size_t i) { return maps_start_at(maps, ranges[i].start); }))
                return maps;
        }
    }
    auto maps =
        read_smaps(pid == 0 ? "/proc/self/smaps" : "/proc/" + std::to_string(pid) + "/smaps");
    std::lock_guard lock(cache_mu);
    cache()[pid] = Cached{now, maps};
    return maps;
}

}  // namespace

std::vector<uint64_t> anonymous_bytes(const std::vector<MemRange>& ranges) {
    std::vector<uint64_t> out(ranges.size(), 0);
    std::map<int, std::vector<size_t>> by_pid;
    for (size_t i = 0; i < ranges.size(); ++i)
        if (ranges[i].size) by_pid[ranges[i].pid].push_back(i);
    for (const auto& [pid, which] : by_pid) {
        const auto maps = mappings_of(pid, ranges, which);
        for (size_t i : which) {
            const uintptr_t start = ranges[i].start, end = start + ranges[i].size;
            // The mappings that lie inside the range.
            auto it = std::lower_bound(maps.begin(), maps.end(), start,
                                       [](const Mapping& m, uintptr_t a) { return m.lo < a; });
            for (; it != maps.end() && it->lo < end; ++it)
                if (it->hi <= end) out[i] += it->anon;
        }
    }
    return out;
}

}  // namespace ember::platform
