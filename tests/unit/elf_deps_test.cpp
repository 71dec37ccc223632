// The interpreter and shared-library names of dynamic programs, read from
// Debian's own binaries and from damaged copies of them.
#include "vmm/elf_deps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>

namespace ember {
namespace {

std::vector<uint8_t> read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// What binutils' readelf says an ELF file needs, in order.
std::vector<std::string> readelf_needed(const std::string& path) {
    std::vector<std::string> out;
    FILE* p = ::popen(("readelf -d " + path + " 2>/dev/null").c_str(), "r");
    if (!p) return out;
    char line[512];
    while (std::fgets(line, sizeof line, p)) {
        const std::string l = line;
        const auto a = l.find("(NEEDED)"), lb = l.find('['), rb = l.find(']');
        if (a != std::string::npos && lb != std::string::npos && rb > lb)
            out.push_back(l.substr(lb + 1, rb - lb - 1));
    }
    ::pclose(p);
    return out;
}

TEST(ElfDeps, DebianProgramsNeedWhatReadelfSays) {
    for (const std::string path : {"/usr/bin/perl", "/usr/bin/bash", "/usr/bin/sqlite3"}) {
        const auto file = read(path);
        if (file.empty()) continue;  // sqlite3 comes with scripts/deps.sh
        auto interp = elf_interpreter(file);
        ASSERT_TRUE(interp.is_ok()) << path << ": " << interp.message();
        EXPECT_EQ(*interp, "/lib64/ld-linux-x86-64.so.2") << path;
        auto dyn = elf_dynamic(file);
        ASSERT_TRUE(dyn.is_ok()) << path << ": " << dyn.message();
        const auto want = readelf_needed(path);
        ASSERT_FALSE(want.empty()) << "readelf (binutils) found nothing in " << path;
        EXPECT_EQ(dyn->needed, want) << path;
    }
}

TEST(ElfDeps, StaticProgramsAndLibrariesHaveNoInterpreterEntry) {
    const auto busybox = read("/bin/busybox");
    ASSERT_FALSE(busybox.empty());
    auto interp = elf_interpreter(busybox);
    ASSERT_TRUE(interp.is_ok()) << interp.message();
    EXPECT_EQ(*interp, "");
    auto dyn = elf_dynamic(busybox);
    ASSERT_TRUE(dyn.is_ok());
    EXPECT_TRUE(dyn->needed.empty());
}

TEST(ElfDeps, DamagedFilesAreErrorsNotCrashes) {
    const auto perl = read("/usr/bin/perl");
    ASSERT_FALSE(perl.empty());
    EXPECT_FALSE(elf_dynamic(std::vector<uint8_t>(perl.begin(), perl.begin() + 40)).is_ok());
    EXPECT_FALSE(elf_dynamic(std::vector<uint8_t>{'n', 'o', 't'}).is_ok());
    // Truncations and random byte flips: any answer but a crash (the sanitizer
    // build checks every read).
    std::mt19937 rng(42);
    for (int i = 0; i < 300; ++i) {
        std::vector<uint8_t> v(perl.begin(),
                               perl.begin() + std::min<size_t>(perl.size(), 1 + rng() % 16384));
        for (int k = 0; k < 8; ++k) v[rng() % v.size()] = static_cast<uint8_t>(rng());
        (void)elf_dynamic(v);
        (void)elf_interpreter(v);
    }
}

}  // namespace
}  // namespace ember
