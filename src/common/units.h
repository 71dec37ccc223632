// units.h - sizes and durations as people type them ("64M", "1.5s"), shared
// by ember-vm, emberd, the ember CLI and the API's human-readable output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ember {

// "64M", "512K", "1G", "1048576" (bytes). Suffixes K/M/G (also KiB/MiB/GiB,
// lower-case k/m/g) are powers of 1024. Empty or malformed input, or a value
// that overflows, gives nullopt.
std::optional<uint64_t> parse_size(const std::string& s);

// "500ms", "1s", "1.5s", "2m", "250us"; a bare number is seconds. Negative,
// malformed or absurd (> 10 years) values give nullopt. Result in
// milliseconds, rounded up so that "1us" is not 0.
std::optional<uint64_t> parse_duration_ms(const std::string& s);
// The same in nanoseconds (fractions of a nanosecond are dropped).
std::optional<uint64_t> parse_duration_ns(const std::string& s);

// 1500 -> "1.5s", 90000 -> "1m30s", 250 -> "250ms".
std::string format_duration_ms(uint64_t ms);
// 67108864 -> "64M"; 1536 -> "1.5K".
std::string format_size(uint64_t bytes);
// 4096 -> "0x1000" (addresses and registers in messages).
std::string format_hex(uint64_t v);

}  // namespace ember
