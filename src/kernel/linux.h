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

// ---- files (used by fs/) ---------------------------------------------------
constexpr uint64_t O_DIRECT = 040000, O_DSYNC = 010000, O_SYNC = 04010000,
                   O_NOATIME = 01000000, O_TMPFILE = 020200000, O_ASYNC = 020000;
constexpr uint64_t AT_SYMLINK_FOLLOW = 0x400, AT_NO_AUTOMOUNT = 0x800,
                   AT_STATX_SYNC_TYPE = 0x6000;
constexpr uint64_t F_OK = 0, X_OK = 1, W_OK = 2, R_OK = 4;
constexpr uint64_t SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2, SEEK_DATA = 3, SEEK_HOLE = 4;
constexpr uint64_t RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
constexpr uint64_t MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
constexpr uint64_t CLOSE_RANGE_UNSHARE = 2, CLOSE_RANGE_CLOEXEC = 4;
constexpr uint64_t UTIME_NOW = (1ull << 30) - 1, UTIME_OMIT = (1ull << 30) - 2;
constexpr uint64_t FALLOC_FL_KEEP_SIZE = 1;

// fcntl
constexpr uint64_t F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4,
                   F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7, F_OFD_GETLK = 36,
                   F_OFD_SETLK = 37, F_OFD_SETLKW = 38, F_DUPFD_CLOEXEC = 1030,
                   F_SETPIPE_SZ = 1031, F_GETPIPE_SZ = 1032, F_ADD_SEALS = 1033,
                   F_GET_SEALS = 1034;
constexpr uint64_t FD_CLOEXEC = 1;
constexpr int16_t F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
struct linux_flock {
    int16_t l_type, l_whence;
    uint32_t pad0;
    int64_t l_start, l_len;
    int32_t l_pid;
    uint32_t pad1;
};
static_assert(sizeof(linux_flock) == 32);

// ioctl requests that fs/ answers (everything else is -ENOTTY)
constexpr uint64_t TCGETS = 0x5401, TIOCGWINSZ = 0x5413, FIONREAD = 0x541b, FIONBIO = 0x5421,
                   FIONCLEX = 0x5450, FIOCLEX = 0x5451, FIOASYNC = 0x5452;

// poll(2) event bits
constexpr uint32_t POLLIN = 0x1, POLLPRI = 0x2, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10,
                   POLLNVAL = 0x20, POLLRDNORM = 0x40, POLLWRNORM = 0x100;

struct linux_iovec {
    uint64_t iov_base;
    uint64_t iov_len;
};
static_assert(sizeof(linux_iovec) == 16);
constexpr uint64_t IOV_MAX = 1024;

// getdents64 record: this header, then the NUL-terminated name, padded so
// that d_reclen is a multiple of 8.
struct linux_dirent64_hdr {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
} __attribute__((packed));
static_assert(sizeof(linux_dirent64_hdr) == 19);
constexpr uint8_t DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8,
                  DT_LNK = 10, DT_SOCK = 12;

struct linux_statx_timestamp {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t reserved;
};
struct linux_statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, spare0;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    linux_statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t stx_mnt_id;
    uint32_t stx_dio_mem_align, stx_dio_offset_align;
    uint64_t spare3[12];
};
static_assert(sizeof(linux_statx) == 256);
static_assert(__builtin_offsetof(linux_statx, stx_mtime) == 112);
static_assert(__builtin_offsetof(linux_statx, stx_rdev_major) == 128);
constexpr uint32_t STATX_TYPE = 0x1, STATX_MODE = 0x2, STATX_NLINK = 0x4, STATX_UID = 0x8,
                   STATX_GID = 0x10, STATX_ATIME = 0x20, STATX_MTIME = 0x40, STATX_CTIME = 0x80,
                   STATX_INO = 0x100, STATX_SIZE = 0x200, STATX_BLOCKS = 0x400,
                   STATX_BASIC_STATS = 0x7ff, STATX__RESERVED = 0x80000000u;

struct linux_statfs {
    int64_t f_type, f_bsize;
    uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int32_t f_fsid[2];
    int64_t f_namelen, f_frsize, f_flags;
    int64_t f_spare[4];
};
static_assert(sizeof(linux_statfs) == 120);
constexpr int64_t TMPFS_MAGIC = 0x01021994, RAMFS_MAGIC = 0x858458f6, PROC_SUPER_MAGIC = 0x9fa0,
                  PIPEFS_MAGIC = 0x50495045;
constexpr int64_t ST_RDONLY = 1, ST_NOSUID = 2, ST_NODEV = 4;

}  // namespace k
