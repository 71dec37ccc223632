// linux.h - the parts of the Linux x86-64 user ABI that the kernel speaks:
// errno values, flags and structure layouts, written out field by field.
#pragma once

#include <stdint.h>

#include "syscall_names.h"

namespace k {

// errno values (returned negated from syscalls)
enum : int64_t {
    EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7,
    ENOEXEC = 8, EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13,
    EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20,
    EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOTTY = 25, EFBIG = 27,
    ENOSPC = 28, ESPIPE = 29, EROFS = 30, EMLINK = 31, EPIPE = 32, ERANGE = 34,
    EDEADLK = 35, ENAMETOOLONG = 36, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40,
    ENODATA = 61, ETIME = 62, EOVERFLOW = 75, ENOTSOCK = 88, EOPNOTSUPP = 95,
    EAFNOSUPPORT = 97, ETIMEDOUT = 110,
};

struct linux_timespec {
    int64_t tv_sec;
    int64_t tv_nsec;
};
struct linux_timeval {
    int64_t tv_sec;
    int64_t tv_usec;
};
static_assert(sizeof(linux_timespec) == 16);

struct linux_utsname {
    char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};
static_assert(sizeof(linux_utsname) == 390);

struct linux_rlimit {
    uint64_t cur, max;
};

struct linux_sysinfo {
    int64_t uptime;
    uint64_t loads[3];
    uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    uint16_t procs, pad;
    uint32_t pad2;
    uint64_t totalhigh, freehigh;
    uint32_t mem_unit;
    char reserved[4];
};
static_assert(sizeof(linux_sysinfo) == 112);

// mmap
constexpr uint64_t PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
constexpr uint64_t MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10,
                   MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000,
                   MAP_FIXED_NOREPLACE = 0x100000, MAP_STACK = 0x20000, MAP_GROWSDOWN = 0x100;
constexpr uint64_t MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;

// open flags (x86-64)
constexpr uint64_t O_ACCMODE = 3, O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100,
                   O_EXCL = 0200, O_NOCTTY = 0400, O_TRUNC = 01000, O_APPEND = 02000,
                   O_NONBLOCK = 04000, O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000,
                   O_CLOEXEC = 02000000, O_PATH = 010000000, O_LARGEFILE = 0100000;
constexpr int64_t AT_FDCWD = -100;
constexpr uint64_t AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_EMPTY_PATH = 0x1000,
                   AT_EACCESS = 0x200;

// file types (st_mode)
constexpr uint32_t S_IFMT = 0170000, S_IFDIR = 0040000, S_IFREG = 0100000,
                   S_IFLNK = 0120000, S_IFCHR = 0020000, S_IFIFO = 0010000,
                   S_IFSOCK = 0140000, S_IFBLK = 0060000;

struct linux_stat {
    uint64_t st_dev, st_ino, st_nlink;
    uint32_t st_mode, st_uid, st_gid, pad0;
    uint64_t st_rdev;
    int64_t st_size, st_blksize, st_blocks;
    linux_timespec st_atim, st_mtim, st_ctim;
    int64_t reserved[3];
};
static_assert(sizeof(linux_stat) == 144);

// auxiliary vector keys
enum : uint64_t {
    AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7,
    AT_FLAGS = 8, AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14,
    AT_PLATFORM = 15, AT_HWCAP = 16, AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25,
    AT_HWCAP2 = 26, AT_EXECFN = 31, AT_MINSIGSTKSZ = 51,
};

}  // namespace k
