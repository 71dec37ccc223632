// Tests for src/common/elf.h: images built field by field in memory, random
// corruptions of them, and real static executables from the host.
#include "common/elf.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ember::elf {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3, kPtPhdr = 6, kPtTls = 7;
constexpr uint32_t kPtGnuStack = 0x6474e551;
constexpr uint32_t R = kFlagR, W = kFlagW, X = kFlagX;

struct Ph {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz, align;
};

// Every ELF header field the parser looks at, defaulting to a valid ET_EXEC.
struct Spec {
    uint8_t ei_class = 2, ei_data = 1, ei_version = 1;
    uint16_t type = kTypeExec, machine = 62;
    uint32_t version = 1;
    uint64_t entry = 0x401010;
    uint64_t phoff = 64;
    uint16_t ehsize = 64, phentsize = 56;
    std::optional<uint16_t> phnum;  // default: phdrs.size()
    std::vector<Ph> phdrs;
    uint64_t file_size = 0x2100;  // grown to hold the header and the table
};

void put(std::vector<uint8_t>& v, uint64_t off, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) v[off + i] = static_cast<uint8_t>(value >> (8 * i));
}

std::vector<uint8_t> build(const Spec& s) {
    const uint64_t table_end = s.phdrs.empty() ? 0 : s.phoff + s.phdrs.size() * 56;
    std::vector<uint8_t> v(std::max<uint64_t>({s.file_size, 64, table_end}), 0);
    v[0] = 0x7f, v[1] = 'E', v[2] = 'L', v[3] = 'F';
    v[4] = s.ei_class, v[5] = s.ei_data, v[6] = s.ei_version;
    put(v, 16, s.type, 2);
    put(v, 18, s.machine, 2);
    put(v, 20, s.version, 4);
    put(v, 24, s.entry, 8);
    put(v, 32, s.phoff, 8);
    put(v, 52, s.ehsize, 2);
    put(v, 54, s.phentsize, 2);
    put(v, 56, s.phnum.value_or(static_cast<uint16_t>(s.phdrs.size())), 2);
    for (size_t i = 0; i < s.phdrs.size(); ++i) {
        const Ph& p = s.phdrs[i];
        const uint64_t o = s.phoff + i * 56;
        put(v, o, p.type, 4);
        put(v, o + 4, p.flags, 4);
        put(v, o + 8, p.offset, 8);
        put(v, o + 16, p.vaddr, 8);
        put(v, o + 24, p.vaddr, 8);
        put(v, o + 32, p.filesz, 8);
        put(v, o + 40, p.memsz, 8);
        put(v, o + 48, p.align, 8);
    }
    return v;
}

// A typical small static executable: headers, text, data+bss.
Spec exec_spec() {
    Spec s;
    s.phdrs = {
        {kPtLoad, R, 0, 0x400000, 0x200, 0x200, 0x1000},
        {kPtLoad, R | X, 0x1000, 0x401000, 0x800, 0x800, 0x1000},
        {kPtLoad, R | W, 0x2000, 0x402000, 0x100, 0x3000, 0x1000},
        {kPtGnuStack, R | W, 0, 0, 0, 0, 16},
    };
    return s;
}

// A static-PIE: linked at 0, with PT_PHDR, PT_TLS and PT_DYNAMIC (for its
// self-relocation) but no PT_INTERP.
Spec pie_spec() {
    Spec s;
    s.type = kTypeDyn;
    s.entry = 0x1100;
    s.phdrs = {
        {kPtPhdr, R, 64, 64, 6 * 56, 6 * 56, 8},
        {kPtLoad, R | X, 0, 0, 0x1800, 0x1800, 0x1000},
        {kPtLoad, R | W, 0x1e00, 0x2e00, 0x300, 0x1000, 0x1000},
        {kPtDynamic, R | W, 0x1f00, 0x2f00, 0x100, 0x100, 8},
        {kPtTls, R, 0x1e00, 0x2e00, 0x20, 0x60, 16},
        {kPtGnuStack, R | W | X, 0, 0, 0, 0, 16},
    };
    return s;
}

// Parses a copy in an exactly sized heap block, so that a sanitizer build
// catches any read past the end.
Error parse_bytes(const std::vector<uint8_t>& v, Image* img) {
    auto copy = std::make_unique<uint8_t[]>(v.size());
    std::memcpy(copy.get(), v.data(), v.size());
    return parse(copy.get(), v.size(), img);
}

Error parse_spec(const Spec& s, Image* img = nullptr) {
    Image scratch;
    return parse_bytes(build(s), img ? img : &scratch);
}

// The guarantees elf.h promises for every accepted image.
void expect_invariants(const Image& img, uint64_t file_size) {
    ASSERT_GE(img.nload, 1u);
    ASSERT_LE(img.nload, kMaxLoad);
    bool entry_found = false;
    for (uint32_t i = 0; i < img.nload; ++i) {
        const Segment& s = img.load[i];
        EXPECT_GT(s.memsz, 0u);
        EXPECT_LE(s.filesz, s.memsz);
        EXPECT_LE(s.offset, file_size);
        EXPECT_LE(s.filesz, file_size - s.offset);
        EXPECT_LE(s.vaddr, kUserTop);
        EXPECT_LE(s.memsz, kUserTop - s.vaddr);
        EXPECT_EQ(s.offset % kPageSize, s.vaddr % kPageSize);
        if (i > 0) {
            EXPECT_LE(img.load[i - 1].vaddr + img.load[i - 1].memsz, s.vaddr);
        }
        if ((s.flags & kFlagX) && img.entry >= s.vaddr && img.entry - s.vaddr < s.memsz)
            entry_found = true;
        EXPECT_LE(img.lo, s.vaddr);
        EXPECT_GE(img.hi, s.vaddr + s.memsz);
    }
    EXPECT_TRUE(entry_found);
    EXPECT_EQ(img.lo % kPageSize, 0u);
    EXPECT_EQ(img.hi % kPageSize, 0u);
}

TEST(Elf, StaticExecutableIsParsed) {
    const Spec s = exec_spec();
    Image img;
    ASSERT_EQ(parse_spec(s, &img), Error::kOk);
    EXPECT_EQ(img.type, kTypeExec);
    EXPECT_FALSE(img.pie);
    EXPECT_EQ(img.entry, 0x401010u);
    EXPECT_EQ(img.phoff, 64u);
    EXPECT_EQ(img.phnum, 4u);
    EXPECT_EQ(img.phentsize, 56u);
    // No PT_PHDR: the table sits in the first PT_LOAD at file offset 64.
    EXPECT_EQ(img.phdr_vaddr, 0x400040u);
    ASSERT_EQ(img.nload, 3u);
    EXPECT_EQ(img.load[2].vaddr, 0x402000u);
    EXPECT_EQ(img.load[2].memsz, 0x3000u);
    EXPECT_EQ(img.load[2].offset, 0x2000u);
    EXPECT_EQ(img.load[2].filesz, 0x100u);
    EXPECT_EQ(img.load[2].flags, R | W);
    EXPECT_EQ(img.lo, 0x400000u);
    EXPECT_EQ(img.hi, 0x405000u);
    EXPECT_EQ(img.tls_memsz, 0u);
    EXPECT_FALSE(img.exec_stack);
    expect_invariants(img, build(s).size());
}

TEST(Elf, StaticPieIsParsed) {
    Image img;
    ASSERT_EQ(parse_spec(pie_spec(), &img), Error::kOk);
    EXPECT_EQ(img.type, kTypeDyn);
    EXPECT_TRUE(img.pie);
    EXPECT_EQ(img.entry, 0x1100u);
    EXPECT_EQ(img.phdr_vaddr, 64u);
    ASSERT_EQ(img.nload, 2u);
    EXPECT_EQ(img.lo, 0u);
    EXPECT_EQ(img.hi, 0x4000u);
    EXPECT_EQ(img.tls_vaddr, 0x2e00u);
    EXPECT_EQ(img.tls_filesz, 0x20u);
    EXPECT_EQ(img.tls_memsz, 0x60u);
    EXPECT_EQ(img.tls_align, 16u);
    EXPECT_TRUE(img.exec_stack);
}

TEST(Elf, LoadSegmentsAreSortedByVaddr) {
    Spec s = exec_spec();
    std::swap(s.phdrs[0], s.phdrs[2]);
    Image img;
    ASSERT_EQ(parse_spec(s, &img), Error::kOk);
    ASSERT_EQ(img.nload, 3u);
    EXPECT_EQ(img.load[0].vaddr, 0x400000u);
    EXPECT_EQ(img.load[1].vaddr, 0x401000u);
    EXPECT_EQ(img.load[2].vaddr, 0x402000u);
}

TEST(Elf, ProgramHeadersOutsideEveryLoadSegmentGiveZeroPhdrVaddr) {
    Spec s = exec_spec();
    s.phdrs.erase(s.phdrs.begin());  // the segment that held the table
    Image img;
    ASSERT_EQ(parse_spec(s, &img), Error::kOk);
    EXPECT_EQ(img.phdr_vaddr, 0u);
}

TEST(Elf, ZeroSizeLoadSegmentIsIgnored) {
    Spec s = exec_spec();
    // Would overlap the text segment if it counted.
    s.phdrs.push_back({kPtLoad, R, 0x1000, 0x401000, 0, 0, 0x1000});
    Image img;
    ASSERT_EQ(parse_spec(s, &img), Error::kOk);
    EXPECT_EQ(img.nload, 3u);
}

TEST(Elf, SegmentsSharingAPageAreAccepted) {
    Spec s = exec_spec();
    // Data starts right after text ends, in the same page (as ld does with
    // -z noseparate-code).
    s.phdrs[2] = {kPtLoad, R | W, 0x1800, 0x401800, 0x100, 0x800, 0x1000};
    Image img;
    ASSERT_EQ(parse_spec(s, &img), Error::kOk);
    EXPECT_EQ(img.hi, 0x402000u);
}

TEST(Elf, TruncatedHeaderIsRejected) {
    std::vector<uint8_t> v = build(exec_spec());
    v.resize(40);
    Image img;
    EXPECT_EQ(parse_bytes(v, &img), Error::kTooSmall);
}

TEST(Elf, NonElfFileIsRejected) {
    const std::string script = "#!/bin/sh\necho hello from a script that is long enough\n";
    Image img;
    EXPECT_EQ(parse_bytes({script.begin(), script.end()}, &img), Error::kBadMagic);
}

TEST(Elf, ThirtyTwoBitElfIsRejected) {
    Spec s = exec_spec();
    s.ei_class = 1;
    EXPECT_EQ(parse_spec(s), Error::kNot64Bit);
}

TEST(Elf, BigEndianElfIsRejected) {
    Spec s = exec_spec();
    s.ei_data = 2;
    EXPECT_EQ(parse_spec(s), Error::kNotLittleEndian);
}

TEST(Elf, UnknownVersionIsRejected) {
    Spec s = exec_spec();
    s.version = 2;
    EXPECT_EQ(parse_spec(s), Error::kBadVersion);
    s = exec_spec();
    s.ei_version = 0;
    EXPECT_EQ(parse_spec(s), Error::kBadVersion);
}

TEST(Elf, WrongMachineIsRejected) {
    Spec s = exec_spec();
    s.machine = 183;  // EM_AARCH64
    EXPECT_EQ(parse_spec(s), Error::kNotX86_64);
}

TEST(Elf, RelocatableObjectIsRejected) {
    Spec s = exec_spec();
    s.type = 1;  // ET_REL
    EXPECT_EQ(parse_spec(s), Error::kBadType);
}

TEST(Elf, WrongElfHeaderSizeIsRejected) {
    Spec s = exec_spec();
    s.ehsize = 52;
    EXPECT_EQ(parse_spec(s), Error::kBadHeaderSize);
}

TEST(Elf, WrongProgramHeaderEntrySizeIsRejected) {
    Spec s = exec_spec();
    s.phentsize = 32;
    EXPECT_EQ(parse_spec(s), Error::kBadPhdrTable);
}

TEST(Elf, TruncatedProgramHeaderTableIsRejected) {
    std::vector<uint8_t> v = build(exec_spec());
    v.resize(64 + 4 * 56 - 1);
    Image img;
    EXPECT_EQ(parse_bytes(v, &img), Error::kBadPhdrTable);
}

TEST(Elf, ProgramHeaderCountBeyondFileIsRejected) {
    Spec s = exec_spec();
    s.phnum = 200;  // 200 * 56 bytes > the 0x2100-byte file
    EXPECT_EQ(parse_spec(s), Error::kBadPhdrTable);
}

TEST(Elf, ProgramHeaderTableOffsetOverflowIsRejected) {
    Spec s = exec_spec();
    s.phdrs.clear();
    s.phnum = 4;
    s.phoff = UINT64_MAX - 100;  // phoff + 4 * 56 wraps to a small number
    EXPECT_EQ(parse_spec(s), Error::kBadPhdrTable);
}

TEST(Elf, InterpreterSegmentIsRejectedAsDynamic) {
    Spec s = exec_spec();
    s.phdrs.push_back({kPtInterp, R, 0x100, 0x400100, 28, 28, 1});
    EXPECT_EQ(parse_spec(s), Error::kDynamic);
    EXPECT_NE(std::string(error_string(Error::kDynamic)).find("PT_INTERP"), std::string::npos);
}

// A PIE with PT_INTERP naming "/lib64/ld.so" at file offset 0x1000.
std::vector<uint8_t> with_interp(const std::string& path, uint64_t filesz) {
    Spec s = pie_spec();
    s.phdrs.push_back({kPtInterp, R, 0x1000, 0x1000, filesz, filesz, 1});
    std::vector<uint8_t> v = build(s);
    std::memcpy(v.data() + 0x1000, path.data(), path.size());
    return v;
}

Error parse_allowing_interp(const std::vector<uint8_t>& v, Image* img) {
    auto copy = std::make_unique<uint8_t[]>(v.size());
    std::memcpy(copy.get(), v.data(), v.size());
    return parse(copy.get(), v.size(), img, /*allow_interp=*/true);
}

TEST(Elf, InterpreterPathIsReportedWhenAllowed) {
    Image img;
    const std::string path("/lib64/ld.so\0", 13);
    ASSERT_EQ(parse_allowing_interp(with_interp(path, path.size()), &img), Error::kOk);
    EXPECT_EQ(img.interp_off, 0x1000u);
    EXPECT_EQ(img.interp_len, 12u);
    Image plain;
    ASSERT_EQ(parse_allowing_interp(build(pie_spec()), &plain), Error::kOk);
    EXPECT_EQ(plain.interp_len, 0u);
}

TEST(Elf, MalformedInterpreterPathsAreRejected) {
    Image img;
    const std::string ok("/lib64/ld.so\0", 13);
    // Not NUL-terminated, a NUL inside, relative, empty, beyond the file, too long.
    EXPECT_EQ(parse_allowing_interp(with_interp("/lib64/ld.so!", 13), &img), Error::kBadInterp);
    EXPECT_EQ(parse_allowing_interp(with_interp(std::string("/lib\0/ld.so\0", 13), 13), &img),
              Error::kBadInterp);
    EXPECT_EQ(parse_allowing_interp(with_interp(std::string("lib/ld.so\0", 10), 10), &img),
              Error::kBadInterp);
    EXPECT_EQ(parse_allowing_interp(with_interp(std::string("\0", 1), 1), &img), Error::kBadInterp);
    EXPECT_EQ(parse_allowing_interp(with_interp(ok, 0x2000), &img), Error::kBadInterp);
    EXPECT_EQ(parse_allowing_interp(with_interp(ok, UINT64_MAX - 0x800), &img), Error::kBadInterp);
    // Two PT_INTERP segments.
    Spec s = pie_spec();
    s.phdrs.push_back({kPtInterp, R, 0x1000, 0x1000, 13, 13, 1});
    s.phdrs.push_back({kPtInterp, R, 0x1000, 0x1000, 13, 13, 1});
    std::vector<uint8_t> v = build(s);
    std::memcpy(v.data() + 0x1000, ok.data(), ok.size());
    EXPECT_EQ(parse_allowing_interp(v, &img), Error::kBadInterp);
}

TEST(Elf, FileSizeLargerThanMemorySizeIsRejected) {
    Spec s = exec_spec();
    s.phdrs[1].filesz = s.phdrs[1].memsz + 1;
    EXPECT_EQ(parse_spec(s), Error::kBadSegment);
}

TEST(Elf, SegmentDataBeyondEndOfFileIsRejected) {
    Spec s = exec_spec();
    s.phdrs[2].filesz = 0x101;  // the file ends at 0x2100
    EXPECT_EQ(parse_spec(s), Error::kBadSegment);
}

TEST(Elf, SegmentFileRangeOverflowIsRejected) {
    Spec s = exec_spec();
    s.phdrs[2].offset = UINT64_MAX - 0xfff;  // congruent with vaddr 0x402000
    s.phdrs[2].filesz = 0x2000;              // offset + filesz wraps to 0x1000
    EXPECT_EQ(parse_spec(s), Error::kBadSegment);
}

TEST(Elf, VaddrPlusMemszOverflowIsRejected) {
    Spec s = exec_spec();
    s.phdrs[2].vaddr = UINT64_MAX & ~0xfffull;
    EXPECT_EQ(parse_spec(s), Error::kBadSegment);
}

TEST(Elf, SegmentBeyondUserAddressSpaceIsRejected) {
    Spec s = exec_spec();
    s.phdrs[2].vaddr = kUserTop - 0x1000;  // memsz 0x3000 crosses kUserTop
    EXPECT_EQ(parse_spec(s), Error::kTooLarge);
}

TEST(Elf, OverlappingSegmentsAreRejected) {
    Spec s = exec_spec();
    s.phdrs[1].memsz = 0x1001;  // text now reaches the first byte of data
    EXPECT_EQ(parse_spec(s), Error::kSegmentsOverlap);
}

TEST(Elf, MisalignedOffsetAndVaddrAreRejected) {
    Spec s = exec_spec();
    s.phdrs[1].vaddr = 0x401010;  // offset 0x1000: not congruent mod 4 KiB
    EXPECT_EQ(parse_spec(s), Error::kBadSegment);
}

TEST(Elf, NonPowerOfTwoAlignmentIsRejected) {
    Spec s = exec_spec();
    s.phdrs[1].align = 0x3000;
    EXPECT_EQ(parse_spec(s), Error::kBadSegment);
}

TEST(Elf, EntryOutsideExecutableSegmentIsRejected) {
    Spec s = exec_spec();
    s.entry = 0x402010;  // inside the writable, non-executable data segment
    EXPECT_EQ(parse_spec(s), Error::kBadEntry);
    s.entry = 0x401800;  // one past the end of text
    EXPECT_EQ(parse_spec(s), Error::kBadEntry);
}

TEST(Elf, NoLoadableSegmentIsRejected) {
    Spec s = exec_spec();
    s.phdrs = {{kPtGnuStack, R | W, 0, 0, 0, 0, 16}};
    EXPECT_EQ(parse_spec(s), Error::kNoLoadableSegment);
}

TEST(Elf, TooManyLoadSegmentsAreRejected) {
    Spec s;
    s.entry = 0x400000;
    s.file_size = 0x1000;
    for (uint64_t i = 0; i < kMaxLoad; ++i)
        s.phdrs.push_back({kPtLoad, R | X, 0, 0x400000 + i * 0x1000, 0x100, 0x100, 0x1000});
    Image img;
    ASSERT_EQ(parse_spec(s, &img), Error::kOk);
    EXPECT_EQ(img.nload, kMaxLoad);
    s.phdrs.push_back({kPtLoad, R, 0, 0x400000 + kMaxLoad * 0x1000, 0x100, 0x100, 0x1000});
    EXPECT_EQ(parse_spec(s), Error::kTooManySegments);
}

TEST(Elf, SecondTlsSegmentIsRejected) {
    Spec s = pie_spec();
    s.phdrs.push_back(s.phdrs[4]);
    EXPECT_EQ(parse_spec(s), Error::kBadSegment);
}

TEST(Elf, TlsImageOutsideLoadSegmentsIsRejected) {
    Spec s = pie_spec();
    s.phdrs[4].vaddr = 0x8000;  // file bytes fine, but no PT_LOAD maps them there
    EXPECT_EQ(parse_spec(s), Error::kBadSegment);
    s.phdrs[4].vaddr = 0x3df0;  // starts in the RW segment, ends 0x10 past it
    EXPECT_EQ(parse_spec(s), Error::kBadSegment);
}

TEST(Elf, ErrorStringsAreDistinct) {
    std::vector<std::string> seen;
    for (uint32_t e = 0; e <= static_cast<uint32_t>(Error::kTooLarge); ++e) {
        const std::string text = error_string(static_cast<Error>(e));
        EXPECT_FALSE(text.empty());
        EXPECT_EQ(std::count(seen.begin(), seen.end(), text), 0) << text;
        seen.push_back(text);
    }
}

// Random corruption of valid images: the parser must never read out of bounds
// (checked under EMBER_SANITIZE) and whatever it accepts must satisfy the
// promised invariants.
TEST(Elf, CorruptedImagesAreRejectedOrConsistent) {
    std::mt19937_64 rng(12345);
    const std::vector<uint8_t> bases[] = {build(exec_spec()), build(pie_spec())};
    int accepted = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        std::vector<uint8_t> v = bases[iter % 2];
        const int flips = 1 + static_cast<int>(rng() % 6);
        for (int i = 0; i < flips; ++i) {
            // Mostly inside the headers, where the parser looks.
            const size_t at = rng() % 4 ? rng() % 400 : rng() % v.size();
            v[at] = static_cast<uint8_t>(rng());
        }
        if (rng() % 8 == 0) v.resize(rng() % v.size());
        Image img;
        if (parse_bytes(v, &img) == Error::kOk) {
            ++accepted;
            expect_invariants(img, v.size());
            if (HasFailure()) {
                ADD_FAILURE() << "iteration " << iter;
                return;
            }
        }
    }
    // Corruptions in unused bytes leave the image valid: the check above ran.
    EXPECT_GT(accepted, 100);
}

// ---- real executables from the host ---------------------------------------

std::optional<std::vector<uint8_t>> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return std::nullopt;
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::string run(const std::string& cmd) {
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

// Compares the parse with readelf's view of the same file, when binutils is
// installed: ELF type, entry point and number of non-empty PT_LOADs.
void expect_matches_readelf(const std::string& path, const Image& img) {
    const std::string out = run("readelf -hlW " + path + " 2>/dev/null");
    if (out.empty()) return;
    std::istringstream lines(out);
    std::string line;
    uint32_t loads = 0;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string first;
        words >> first;
        if (first == "Type:") {
            std::string type;
            words >> type;
            EXPECT_EQ(type, img.pie ? "DYN" : "EXEC");
        } else if (first == "Entry") {
            std::string point, address, value;
            words >> point >> address >> value;
            EXPECT_EQ(std::stoull(value, nullptr, 16), img.entry);
        } else if (first == "LOAD") {
            std::string offset, vaddr, paddr, filesz, memsz;
            words >> offset >> vaddr >> paddr >> filesz >> memsz;
            if (std::stoull(memsz, nullptr, 16) != 0) ++loads;
        }
    }
    EXPECT_EQ(loads, img.nload);
}

TEST(ElfHost, DebianBusyboxIsParsed) {
    const auto data = read_file("/bin/busybox");
    if (!data) GTEST_SKIP() << "/bin/busybox not installed (Debian busybox-static)";
    Image img;
    ASSERT_EQ(parse_bytes(*data, &img), Error::kOk);
    expect_invariants(img, data->size());
    EXPECT_NE(img.phdr_vaddr, 0u);
    EXPECT_GT(img.tls_memsz, 0u);
    EXPECT_FALSE(img.exec_stack);
    expect_matches_readelf("/bin/busybox", img);
}

class ElfCompiled : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ember_elf_test_XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        std::ofstream(dir_ + "/main.c") << "int main(void) { return 0; }\n";
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    // Compiles main.c with the given flags; nullopt if the toolchain cannot.
    std::optional<std::vector<uint8_t>> compile(const std::string& flags, std::string* path) {
        *path = dir_ + "/a.out";
        const std::string cmd =
            "cc " + flags + " -o " + *path + " " + dir_ + "/main.c >/dev/null 2>&1";
        if (std::system(cmd.c_str()) != 0) return std::nullopt;
        return read_file(*path);
    }
    std::string dir_;
};

TEST_F(ElfCompiled, GccStaticExecutableIsParsed) {
    std::string path;
    const auto data = compile("-static -no-pie", &path);
    if (!data) GTEST_SKIP() << "cc -static unavailable (no static libc?)";
    Image img;
    ASSERT_EQ(parse_bytes(*data, &img), Error::kOk);
    EXPECT_FALSE(img.pie);
    expect_invariants(img, data->size());
    expect_matches_readelf(path, img);
}

TEST_F(ElfCompiled, GccStaticPieIsParsed) {
    std::string path;
    const auto data = compile("-static-pie", &path);
    if (!data) GTEST_SKIP() << "cc -static-pie unavailable";
    Image img;
    ASSERT_EQ(parse_bytes(*data, &img), Error::kOk);
    EXPECT_TRUE(img.pie);
    expect_invariants(img, data->size());
    expect_matches_readelf(path, img);
}

TEST_F(ElfCompiled, GccDynamicExecutableIsRejectedAsDynamic) {
    std::string path;
    const auto data = compile("", &path);
    if (!data) GTEST_SKIP() << "cc unavailable";
    Image img;
    EXPECT_EQ(parse_bytes(*data, &img), Error::kDynamic);
}

}  // namespace
}  // namespace ember::elf
