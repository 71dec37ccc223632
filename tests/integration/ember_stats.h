// ember_stats.h - parses the "ember-vm: stats: key=value ..." lines that
// `ember-vm run --stats` prints on stderr. Shared by the integration tests and
// bench/boot_bench.
#pragma once

#include <map>
#include <sstream>
#include <string>

namespace ember::test {

// All key=value pairs of every stats line in `err`; later lines win. Values
// that are not numbers (integers or decimals, e.g. create_us=1485.5) are
// skipped.
inline std::map<std::string, double> parse_stats(const std::string& err) {
    static const std::string kPrefix = "ember-vm: stats:";
    std::map<std::string, double> out;
    std::istringstream lines(err);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(kPrefix, 0) != 0) continue;
        std::istringstream words(line.substr(kPrefix.size()));
        std::string w;
        while (words >> w) {
            auto eq = w.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == w.size()) continue;
            try {
                size_t used = 0;
                double v = std::stod(w.substr(eq + 1), &used);
                if (used == w.size() - eq - 1) out[w.substr(0, eq)] = v;
            } catch (...) {
            }
        }
    }
    return out;
}

}  // namespace ember::test
