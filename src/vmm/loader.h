// loader.h - places the guest kernel and the application into guest memory
// and fills the boot-info page.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "abi/ember_abi.h"
#include "common/result.h"
#include "vmm/guest_memory.h"

namespace ember {

// The kernel ELF embedded in this binary (src/vmm/kernel_blob.S).
std::span<const uint8_t> embedded_kernel();

struct LoadedImage {
    uint64_t entry = 0;
    uint64_t phdr = 0, phent = 0, phnum = 0;
    uint64_t bias = 0;
    uint64_t lo = 0, hi = 0;  // page-aligned, biased
};

// Loads `file` (an ELF executable; with PT_INTERP only when allow_interp)
// so that every segment lies inside [min_addr, max_addr). ET_DYN images are
// placed at pie_base. The pages
// between filesz and memsz are left as they are (guest memory starts zeroed).
// `what` names the image in error messages.
Result<LoadedImage> load_elf(GuestMemory& mem, std::span<const uint8_t> file, uint64_t min_addr,
                             uint64_t max_addr, uint64_t pie_base, const std::string& what,
                             bool allow_interp = false);

// Loads a dynamically linked program's interpreter (an ET_DYN ELF) as high
// as it fits below `top`, above `min_addr`, 64 KiB-aligned.
Result<LoadedImage> load_interpreter(GuestMemory& mem, std::span<const uint8_t> file,
                                     uint64_t min_addr, uint64_t top);

// Loads the embedded kernel at EMBER_GPA_KERNEL and returns its header.
Result<ember_kernel_header> load_kernel(GuestMemory& mem);

// The environment every program starts with unless its own says otherwise
// (as a container runtime does): PATH and HOME=/root (the one user is root).
inline constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
void add_default_env(std::vector<std::string>* env);

// Writes argv then envp as NUL-separated strings at EMBER_GPA_ARGS.
// Returns the bytes used, or an error when they do not fit.
Result<uint64_t> write_args(GuestMemory& mem, const std::vector<std::string>& argv,
                            const std::vector<std::string>& env);

// Where the root filesystem archive goes (its own memory slot, see the
// memory map in ember_abi.h): right above `ram` bytes of RAM, or above the
// syscall slots' 2 MiB when it would cover them. end is the end of the
// identity-mapped range (the slot rounded up to EMBER_MEM_ALIGN); an empty
// archive takes no slot (gpa == end == ram). An error when RAM and the
// archive exceed the identity map (EMBER_MEM_MAX).
struct RootfsSlot {
    uint64_t gpa = 0, end = 0;
};
Result<RootfsSlot> plan_rootfs_slot(uint64_t ram, uint64_t archive_size);

}  // namespace ember
