#include "vmm/loader.h"

#include <cstring>

#include "common/elf.h"
#include "common/units.h"
#include "vmm/layout.h"

extern "C" const uint8_t ember_kernel_elf[];
extern "C" const uint8_t ember_kernel_elf_end[];

namespace ember {

std::span<const uint8_t> embedded_kernel() {
    return {ember_kernel_elf, static_cast<size_t>(ember_kernel_elf_end - ember_kernel_elf)};
}

Result<LoadedImage> load_elf(GuestMemory& mem, std::span<const uint8_t> file, uint64_t min_addr,
                             uint64_t max_addr, uint64_t pie_base, const std::string& what,
                             bool allow_interp) {
    elf::Image img;
    const elf::Error err = elf::parse(file.data(), file.size(), &img, allow_interp);
    if (err != elf::Error::kOk) {
        // Well-formed ELF files Ember cannot run, apart from broken ones.
        const bool unsupported = err == elf::Error::kNot64Bit ||
                                 err == elf::Error::kNotLittleEndian ||
                                 err == elf::Error::kNotX86_64 || err == elf::Error::kDynamic;
        std::string msg = what + ": " + elf::error_string(err);
        return unsupported ? Status::unsupported(std::move(msg))
                           : Status::corruption(std::move(msg));
    }
    LoadedImage out;
    out.bias = img.pie ? pie_base - img.lo : 0;
    out.lo = img.lo + out.bias;
    out.hi = img.hi + out.bias;
    if (out.lo < min_addr || out.hi > max_addr || out.hi < out.lo)
        return Status::invalid_argument(what + ": segments at [" + format_hex(out.lo) + ", " +
                                        format_hex(out.hi) + ") do not fit in guest memory [" +
                                        format_hex(min_addr) + ", " + format_hex(max_addr) +
                                        ") (give the guest more memory)");
    for (uint32_t i = 0; i < img.nload; ++i) {
        const elf::Segment& s = img.load[i];
        // parse() guarantees offset + filesz lies inside the file.
        if (!mem.write(s.vaddr + out.bias, file.data() + s.offset, s.filesz))
            return Status::invalid_argument(what + ": segment outside guest memory");
        // The zero-filled rest (.bss) is about to be used: populate it on the
        // host now, where a page fault is several times cheaper than the
        // guest's first touch of an unpopulated page.
        if (!mem.fill(s.vaddr + out.bias + s.filesz, 0, s.memsz - s.filesz))
            return Status::invalid_argument(what + ": segment outside guest memory");
    }
    out.entry = img.entry + out.bias;
    out.phdr = img.phdr_vaddr ? img.phdr_vaddr + out.bias : 0;
    out.phent = img.phentsize;
    out.phnum = img.phnum;
    return out;
}

Result<ember_kernel_header> load_kernel(GuestMemory& mem) {
    auto img = load_elf(mem, embedded_kernel(), EMBER_GPA_KERNEL, EMBER_GPA_KERNEL_END, 0,
                        "embedded guest kernel");
    if (!img) return img.status();
    auto kh = mem.read_obj<ember_kernel_header>(EMBER_GPA_KERNEL);
    if (!kh || kh->magic != EMBER_KERNEL_MAGIC || kh->abi_version != EMBER_ABI_VERSION ||
        kh->header_size != sizeof(ember_kernel_header))
        return Status::internal("embedded guest kernel has a bad header (build mismatch)");
    return *kh;
}

void add_default_env(std::vector<std::string>* env) {
    auto has = [&](const char* key) {
        for (const std::string& e : *env)
            if (e.rfind(key, 0) == 0) return true;
        return false;
    };
    if (!has("PATH=")) env->push_back(kDefaultPath);
    if (!has("HOME=")) env->push_back("HOME=/root");
}

Result<uint64_t> write_args(GuestMemory& mem, const std::vector<std::string>& argv,
                            const std::vector<std::string>& env) {
    uint64_t off = 0;
    for (const auto* list : {&argv, &env}) {
        for (const std::string& s : *list) {
            if (s.find('\0') != std::string::npos)
                return Status::invalid_argument(
                    "argument or environment string contains a NUL byte");
            if (s.size() + 1 > EMBER_ARGS_SIZE - off)
                return Status::invalid_argument("arguments and environment exceed " +
                                                std::to_string(EMBER_ARGS_SIZE / 1024) + " KiB");
            if (!mem.write(EMBER_GPA_ARGS + off, s.c_str(), s.size() + 1))
                return Status::internal("argument area outside guest memory");
            off += s.size() + 1;
        }
    }
    return off;
}

Result<LoadedImage> load_interpreter(GuestMemory& mem, std::span<const uint8_t> file,
                                     uint64_t min_addr, uint64_t top) {
    elf::Image img;
    const elf::Error err = elf::parse(file.data(), file.size(), &img);
    if (err != elf::Error::kOk)
        return Status::corruption(std::string("the program's interpreter: ") +
                                  elf::error_string(err));
    if (!img.pie)
        return Status::unsupported("the program's interpreter is not position-independent");
    constexpr uint64_t kAlign = 64 * 1024;
    const uint64_t span = img.hi - img.lo;
    if (top < span || ((top - span) & ~(kAlign - 1)) < min_addr)
        return Status::invalid_argument(
            "the program's interpreter does not fit in guest memory (give the guest more memory)");
    return load_elf(mem, file, min_addr, top, (top - span) & ~(kAlign - 1), "the interpreter");
}

Result<RootfsSlot> plan_rootfs_slot(uint64_t ram, uint64_t archive_size) {
    if (archive_size == 0) return RootfsSlot{ram, ram};
    uint64_t gpa = ram;
    if (overlaps_syscall_slots(gpa, gpa + archive_size)) gpa = EMBER_ROOTFS_ABOVE_SLOTS;
    const uint64_t room = EMBER_MEM_MAX - gpa;
    if (gpa > EMBER_MEM_MAX || archive_size > room ||
        round_up_guest_memory_size(archive_size) > room)
        return Status::invalid_argument(
            "guest memory (" + std::to_string(ram >> 20) + " MiB) and root filesystem (" +
            std::to_string(archive_size >> 20) + " MiB) exceed the " +
            std::to_string(EMBER_MEM_MAX >> 30) + " GiB the guest can address");
    return RootfsSlot{gpa, gpa + round_up_guest_memory_size(archive_size)};
}

}  // namespace ember
