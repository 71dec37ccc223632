// bad_input_test.cpp - ember-vm given input it cannot run: a clear one-line
// error ("ember-vm: ..."), status 126 (bad input) or 2 (usage), and never a
// crash of ember-vm itself.
#include <elf.h>

#include <cstring>
#include <functional>

#include "cpio_writer.h"
#include "test_env.h"

namespace ember::test {
namespace {

constexpr int kBadInput = 126;
constexpr int kUsage = 2;

class BadInputTest : public EmberTest {
  protected:
    std::string hello() const { return example_path("gcc", "hello"); }

    // hello (a static ET_EXEC) with `patch` applied to its ELF and program headers.
    std::string patched_hello(const std::function<void(Elf64_Ehdr&, Elf64_Phdr*)>& patch) {
        std::string img = read_file(hello());
        EXPECT_GT(img.size(), sizeof(Elf64_Ehdr));
        auto* eh = reinterpret_cast<Elf64_Ehdr*>(img.data());
        EXPECT_EQ(memcmp(eh->e_ident, ELFMAG, SELFMAG), 0);
        EXPECT_LE(eh->e_phoff + eh->e_phnum * sizeof(Elf64_Phdr), img.size());
        patch(*eh, reinterpret_cast<Elf64_Phdr*>(img.data() + eh->e_phoff));
        const std::string path = dir_ / "patched-hello";
        write_file(path, img, 0755);
        return path;
    }

    static Elf64_Phdr* last_load(Elf64_Ehdr& eh, Elf64_Phdr* ph) {
        Elf64_Phdr* last = nullptr;
        for (int i = 0; i < eh.e_phnum; i++)
            if (ph[i].p_type == PT_LOAD) last = &ph[i];
        return last;
    }

    TempDir dir_;
};

TEST_F(BadInputTest, MissingProgramFile) {
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", dir_ / "no-such-program"}), {kBadInput}));
}

TEST_F(BadInputTest, ProgramIsATextFile) {
    write_file(dir_ / "script.txt", "#!/bin/sh\necho this is not an ELF file\n", 0755);
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", dir_ / "script.txt"}), {kBadInput}));
}

TEST_F(BadInputTest, ProgramIsEmpty) {
    write_file(dir_ / "empty", "", 0755);
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", dir_ / "empty"}), {kBadInput}));
}

TEST_F(BadInputTest, ProgramIsADirectory) {
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", dir_.path()}), {kBadInput}));
}

TEST_F(BadInputTest, ProgramIsATruncatedElf) {
    write_file(dir_ / "truncated", read_file(hello()).substr(0, 40), 0755);
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", dir_ / "truncated"}), {kBadInput}));
}

TEST_F(BadInputTest, ProgramHeadersPastEndOfFile) {
    write_file(dir_ / "cut", read_file(hello()).substr(0, 200), 0755);
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", dir_ / "cut"}), {kBadInput}));
}

// A minimal, valid i386 executable (exit(0) through int $0x80).
std::string elf32_exit0() {
    Elf32_Ehdr eh{};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS32;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_386;
    eh.e_version = EV_CURRENT;
    const uint32_t base = 0x08048000, code_off = sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr);
    eh.e_entry = base + code_off;
    eh.e_phoff = sizeof(Elf32_Ehdr);
    eh.e_ehsize = sizeof(Elf32_Ehdr);
    eh.e_phentsize = sizeof(Elf32_Phdr);
    eh.e_phnum = 1;
    const unsigned char code[] = {0xb8, 1,    0,    0,   0,
                                  0x31, 0xdb, 0xcd, 0x80};  // mov $1,%eax; xor %ebx,%ebx; int $0x80
    Elf32_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_vaddr = ph.p_paddr = base;
    ph.p_filesz = ph.p_memsz = code_off + sizeof code;
    ph.p_flags = PF_R | PF_X;
    ph.p_align = 0x1000;
    std::string img(reinterpret_cast<const char*>(&eh), sizeof eh);
    img.append(reinterpret_cast<const char*>(&ph), sizeof ph);
    img.append(reinterpret_cast<const char*>(code), sizeof code);
    return img;
}

TEST_F(BadInputTest, ProgramIsA32BitElf) {
    write_file(dir_ / "elf32", elf32_exit0(), 0755);
    auto native = run_native({dir_ / "elf32"});  // informational: runs where ia32 is enabled
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", dir_ / "elf32"}), {kBadInput}))
        << "(native run of the same file: " << describe_status(native) << ")";
}

TEST_F(BadInputTest, ProgramIsForAnotherMachine) {
    auto path = patched_hello([](Elf64_Ehdr& eh, Elf64_Phdr*) { eh.e_machine = EM_AARCH64; });
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", path}), {kBadInput}));
}

TEST_F(BadInputTest, DynamicProgramWhoseRootfsLacksItsInterpreter) {
    TempDir empty;
    auto r = run_ember({"run", "--rootfs", empty.path(), example_path("gcc", "hello-dynamic")});
    EXPECT_TRUE(RejectedWithOneLine(r, {kBadInput}));
    EXPECT_NE(r.err.find("interpreter"), std::string::npos) << r.err;
}

TEST_F(BadInputTest, SegmentAddressOutsideGuestMemory) {
    auto path = patched_hello([](Elf64_Ehdr& eh, Elf64_Phdr* ph) {
        constexpr uint64_t kShift = 0x7f0000000000ull;
        eh.e_entry += kShift;
        for (int i = 0; i < eh.e_phnum; i++) {
            if (ph[i].p_type != PT_LOAD) continue;
            ph[i].p_vaddr += kShift;
            ph[i].p_paddr += kShift;
        }
    });
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", path}), {kBadInput}));
}

TEST_F(BadInputTest, SegmentEndOverflows) {
    auto path = patched_hello([](Elf64_Ehdr& eh, Elf64_Phdr* ph) {
        Elf64_Phdr* last = last_load(eh, ph);
        ASSERT_NE(last, nullptr);
        last->p_memsz = ~0ull - last->p_vaddr + 0x2000;  // vaddr + memsz wraps around
    });
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", path}), {kBadInput}));
}

TEST_F(BadInputTest, SegmentFileRangePastEndOfFile) {
    auto path = patched_hello([](Elf64_Ehdr& eh, Elf64_Phdr* ph) {
        Elf64_Phdr* last = last_load(eh, ph);
        ASSERT_NE(last, nullptr);
        last->p_filesz = last->p_memsz = 0x40000000;
    });
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", path}), {kBadInput}));
}

TEST_F(BadInputTest, BssLargerThanGuestMemory) {
    auto path = patched_hello([](Elf64_Ehdr& eh, Elf64_Phdr* ph) {
        Elf64_Phdr* last = last_load(eh, ph);
        ASSERT_NE(last, nullptr);
        last->p_memsz = 256ull << 20;
    });
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", "--mem", "16M", path}), {kBadInput}));
}

TEST_F(BadInputTest, RootfsArchiveTruncated) {
    CpioWriter w;
    w.add_dir("data");
    w.add_file("data/a.txt", std::string(3000, 'a'));
    std::string archive = w.finish();
    write_file(dir_ / "cut.cpio", archive.substr(0, 110 + 12 + 110 + 1000));
    auto r = run_ember({"run", "--rootfs", dir_ / "cut.cpio", hello()});
    EXPECT_TRUE(RejectedWithOneLine(r, {kBadInput}));
}

TEST_F(BadInputTest, RootfsArchiveWithoutTrailer) {
    CpioWriter w;
    w.add_file("a.txt", "abc");
    std::string archive = w.finish();
    write_file(dir_ / "notrailer.cpio", archive.substr(0, archive.rfind("070701")));
    auto r = run_ember({"run", "--rootfs", dir_ / "notrailer.cpio", hello()});
    EXPECT_TRUE(RejectedWithOneLine(r, {kBadInput}));
}

TEST_F(BadInputTest, RootfsArchiveIsGarbage) {
    write_file(dir_ / "garbage.cpio", std::string(4096, '\x5a'));
    auto r = run_ember({"run", "--rootfs", dir_ / "garbage.cpio", hello()});
    EXPECT_TRUE(RejectedWithOneLine(r, {kBadInput}));
}

TEST_F(BadInputTest, RootfsArchiveHeaderSizeOverflows) {
    // A first entry claiming a 4 GiB - 1 file.
    CpioWriter w;
    w.add_file("big", "x");
    std::string a = w.finish();
    memcpy(a.data() + 6 + 6 * 8, "FFFFFFFF", 8);  // c_filesize
    write_file(dir_ / "overflow.cpio", a);
    auto r = run_ember({"run", "--rootfs", dir_ / "overflow.cpio", hello()});
    EXPECT_TRUE(RejectedWithOneLine(r, {kBadInput}));
}

TEST_F(BadInputTest, RootfsMissing) {
    auto r = run_ember({"run", "--rootfs", dir_ / "no-such-root", hello()});
    EXPECT_TRUE(RejectedWithOneLine(r, {kBadInput, kUsage}));
}

TEST_F(BadInputTest, FileOptionWithMissingHostFile) {
    auto r = run_ember({"run", "--file", (dir_ / "absent") + ":/data/x", hello()});
    EXPECT_TRUE(RejectedWithOneLine(r, {kBadInput, kUsage}));
}

TEST_F(BadInputTest, FileOptionWithoutGuestPath) {
    write_file(dir_ / "present", "x");
    auto r = run_ember({"run", "--file", dir_ / "present", hello()});
    EXPECT_TRUE(RejectedWithOneLine(r, {kBadInput, kUsage}));
}

TEST_F(BadInputTest, MemValueIsNotASize) {
    EXPECT_TRUE(
        RejectedWithOneLine(run_ember({"run", "--mem", "lots", hello()}), {kUsage, kBadInput}));
    EXPECT_TRUE(
        RejectedWithOneLine(run_ember({"run", "--mem", "12X", hello()}), {kUsage, kBadInput}));
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", "--mem", "", hello()}), {kUsage, kBadInput}));
}

TEST_F(BadInputTest, MemValueOutOfRange) {
    EXPECT_TRUE(
        RejectedWithOneLine(run_ember({"run", "--mem", "1K", hello()}), {kUsage, kBadInput}));
    EXPECT_TRUE(
        RejectedWithOneLine(run_ember({"run", "--mem", "1024G", hello()}), {kUsage, kBadInput}));
    EXPECT_TRUE(RejectedWithOneLine(
        run_ember({"run", "--mem", "99999999999999999999999G", hello()}), {kUsage, kBadInput}));
}

TEST_F(BadInputTest, TimeoutValueIsNotADuration) {
    EXPECT_TRUE(
        RejectedWithOneLine(run_ember({"run", "--timeout", "soon", hello()}), {kUsage, kBadInput}));
}

TEST_F(BadInputTest, UnknownOption) {
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", "--frobnicate", hello()}), {kUsage}));
}

TEST_F(BadInputTest, OptionMissingItsValue) {
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", "--mem"}), {kUsage}));
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run", "--env"}), {kUsage}));
}

TEST_F(BadInputTest, RunWithoutProgram) {
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"run"}), {kUsage}));
}

TEST_F(BadInputTest, UnknownCommand) {
    EXPECT_TRUE(RejectedWithOneLine(run_ember({"launch", hello()}), {kUsage}));
}

}  // namespace
}  // namespace ember::test
