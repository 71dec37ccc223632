// linux.h - the parts of the Linux x86-64 user ABI that the kernel speaks:
// errno values, flags and structure layouts, written out field by field.
#pragma once

#include <stdint.h>

#include "syscall_names.h"

namespace k {

// errno values (returned negated from syscalls)
enum : int64_t {
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    ENOEXEC = 8,
    EBADF = 9,
    ECHILD = 10,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    EXDEV = 18,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    ENOTTY = 25,
    EFBIG = 27,
    ENOSPC = 28,
    ESPIPE = 29,
    EROFS = 30,
    EMLINK = 31,
    EPIPE = 32,
    EDOM = 33,
    ERANGE = 34,
    EDEADLK = 35,
    ENAMETOOLONG = 36,
    ENOLCK = 37,
    ENOSYS = 38,
    ENOTEMPTY = 39,
    ELOOP = 40,
    ENODATA = 61,
    ETIME = 62,
    EOVERFLOW = 75,
    ESTALE = 116,
    ENOTSOCK = 88,
    EDESTADDRREQ = 89,
    EMSGSIZE = 90,
    EPROTOTYPE = 91,
    ENOPROTOOPT = 92,
    EPROTONOSUPPORT = 93,
    ESOCKTNOSUPPORT = 94,
    EOPNOTSUPP = 95,
    EPFNOSUPPORT = 96,
    EAFNOSUPPORT = 97,
    EADDRINUSE = 98,
    EADDRNOTAVAIL = 99,
    ENETDOWN = 100,
    ENETUNREACH = 101,
    ECONNABORTED = 103,
    ECONNRESET = 104,
    ENOBUFS = 105,
    EISCONN = 106,
    ENOTCONN = 107,
    ETIMEDOUT = 110,
    ECONNREFUSED = 111,
    EHOSTUNREACH = 113,
    EALREADY = 114,
    EINPROGRESS = 115,
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
constexpr uint64_t MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20,
                   MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_FIXED_NOREPLACE = 0x100000,
                   MAP_STACK = 0x20000, MAP_GROWSDOWN = 0x100;
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
constexpr uint32_t S_IFMT = 0170000, S_IFDIR = 0040000, S_IFREG = 0100000, S_IFLNK = 0120000,
                   S_IFCHR = 0020000, S_IFIFO = 0010000, S_IFSOCK = 0140000, S_IFBLK = 0060000;

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
    AT_NULL = 0,
    AT_PHDR = 3,
    AT_PHENT = 4,
    AT_PHNUM = 5,
    AT_PAGESZ = 6,
    AT_BASE = 7,
    AT_FLAGS = 8,
    AT_ENTRY = 9,
    AT_UID = 11,
    AT_EUID = 12,
    AT_GID = 13,
    AT_EGID = 14,
    AT_PLATFORM = 15,
    AT_HWCAP = 16,
    AT_CLKTCK = 17,
    AT_SECURE = 23,
    AT_RANDOM = 25,
    AT_HWCAP2 = 26,
    AT_EXECFN = 31,
    AT_SYSINFO_EHDR = 33,
    AT_MINSIGSTKSZ = 51,
};

// ---- files (used by fs/) ---------------------------------------------------
constexpr uint64_t O_DIRECT = 040000, O_DSYNC = 010000, O_SYNC = 04010000, O_NOATIME = 01000000,
                   O_TMPFILE = 020200000, O_ASYNC = 020000;
constexpr uint64_t AT_SYMLINK_FOLLOW = 0x400, AT_NO_AUTOMOUNT = 0x800, AT_STATX_SYNC_TYPE = 0x6000;
constexpr uint64_t F_OK = 0, X_OK = 1, W_OK = 2, R_OK = 4;
constexpr uint64_t SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2, SEEK_DATA = 3, SEEK_HOLE = 4;
constexpr uint64_t RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
constexpr uint64_t MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
constexpr uint64_t CLOSE_RANGE_UNSHARE = 2, CLOSE_RANGE_CLOEXEC = 4;
constexpr uint64_t UTIME_NOW = (1ull << 30) - 1, UTIME_OMIT = (1ull << 30) - 2;
constexpr uint64_t FALLOC_FL_KEEP_SIZE = 1;

// fcntl
constexpr uint64_t F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_GETLK = 5,
                   F_SETLK = 6, F_SETLKW = 7, F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_OFD_SETLKW = 38,
                   F_DUPFD_CLOEXEC = 1030, F_SETPIPE_SZ = 1031, F_GETPIPE_SZ = 1032,
                   F_ADD_SEALS = 1033, F_GET_SEALS = 1034, F_SETOWN = 8, F_GETOWN = 9,
                   F_SETOWN_EX = 15, F_GETOWN_EX = 16;
constexpr int32_t F_OWNER_TID = 0, F_OWNER_PID = 1, F_OWNER_PGRP = 2;
struct linux_f_owner_ex {
    int32_t type, pid;
};
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

// poll(2) event bits (epoll's EPOLL* bits have the same values)
constexpr uint32_t POLLIN = 0x1, POLLPRI = 0x2, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10,
                   POLLNVAL = 0x20, POLLRDNORM = 0x40, POLLRDBAND = 0x80, POLLWRNORM = 0x100,
                   POLLWRBAND = 0x200, POLLMSG = 0x400, POLLRDHUP = 0x2000;

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
                  PIPEFS_MAGIC = 0x50495045, SYSFS_MAGIC = 0x62656572;
constexpr int64_t ST_RDONLY = 1, ST_NOSUID = 2, ST_NODEV = 4;

// ---- sockets and readiness (used by net/) ------------------------------------
constexpr uint64_t AF_UNSPEC = 0, AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10, AF_NETLINK = 16,
                   AF_PACKET = 17;
constexpr uint64_t SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_RAW = 3, SOCK_SEQPACKET = 5,
                   SOCK_TYPE_MASK = 0xf, SOCK_NONBLOCK = 04000, SOCK_CLOEXEC = 02000000;
constexpr uint64_t IPPROTO_IP = 0, IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_IPV6 = 41;
constexpr uint64_t SOL_SOCKET = 1, SOL_TCP = 6;
constexpr uint64_t SO_DEBUG = 1, SO_REUSEADDR = 2, SO_TYPE = 3, SO_ERROR = 4, SO_DONTROUTE = 5,
                   SO_BROADCAST = 6, SO_SNDBUF = 7, SO_RCVBUF = 8, SO_KEEPALIVE = 9,
                   SO_OOBINLINE = 10, SO_NO_CHECK = 11, SO_PRIORITY = 12, SO_LINGER = 13,
                   SO_REUSEPORT = 15, SO_RCVLOWAT = 18, SO_BINDTODEVICE = 25, SO_SNDLOWAT = 19,
                   SO_RCVTIMEO_OLD = 20, SO_SNDTIMEO_OLD = 21, SO_ACCEPTCONN = 30,
                   SO_SNDBUFFORCE = 32, SO_RCVBUFFORCE = 33, SO_PROTOCOL = 38, SO_DOMAIN = 39,
                   SO_BUSY_POLL = 46, SO_INCOMING_CPU = 49, SO_ZEROCOPY = 60, SO_RCVTIMEO_NEW = 66,
                   SO_SNDTIMEO_NEW = 67;
constexpr uint64_t TCP_NODELAY = 1, TCP_MAXSEG = 2, TCP_CORK = 3, TCP_KEEPIDLE = 4,
                   TCP_KEEPINTVL = 5, TCP_KEEPCNT = 6, TCP_SYNCNT = 7, TCP_LINGER2 = 8,
                   TCP_DEFER_ACCEPT = 9, TCP_WINDOW_CLAMP = 10, TCP_INFO = 11, TCP_QUICKACK = 12,
                   TCP_CONGESTION = 13, TCP_USER_TIMEOUT = 18, TCP_FASTOPEN = 23,
                   TCP_NOTSENT_LOWAT = 25;
constexpr uint64_t IPV6_V6ONLY = 26, IP_TOS = 1, IP_TTL = 2, IPV6_TCLASS = 67;
constexpr uint64_t SHUT_RD = 0, SHUT_WR = 1, SHUT_RDWR = 2;
constexpr uint64_t MSG_OOB = 0x1, MSG_PEEK = 0x2, MSG_DONTROUTE = 0x4, MSG_CTRUNC = 0x8,
                   MSG_TRUNC = 0x20, MSG_DONTWAIT = 0x40, MSG_EOR = 0x80, MSG_WAITALL = 0x100,
                   MSG_CONFIRM = 0x800, MSG_NOSIGNAL = 0x4000, MSG_MORE = 0x8000,
                   MSG_WAITFORONE = 0x10000, MSG_FASTOPEN = 0x20000000,
                   MSG_CMSG_CLOEXEC = 0x40000000;
constexpr uint64_t SIOCOUTQ = 0x5411, SIOCINQ = FIONREAD, SIOCATMARK = 0x8905;

struct linux_sockaddr_in {
    uint16_t sin_family;
    uint16_t sin_port;  // network byte order
    uint8_t sin_addr[4];
    uint8_t sin_zero[8];
};
static_assert(sizeof(linux_sockaddr_in) == 16);
struct linux_sockaddr_in6 {
    uint16_t sin6_family;
    uint16_t sin6_port;  // network byte order
    uint32_t sin6_flowinfo;
    uint8_t sin6_addr[16];
    uint32_t sin6_scope_id;
};
static_assert(sizeof(linux_sockaddr_in6) == 28);
struct linux_msghdr {
    uint64_t msg_name;
    uint32_t msg_namelen;
    uint32_t pad0;
    uint64_t msg_iov;
    uint64_t msg_iovlen;
    uint64_t msg_control;
    uint64_t msg_controllen;
    int32_t msg_flags;
    uint32_t pad1;
};
static_assert(sizeof(linux_msghdr) == 56);
struct linux_linger {
    int32_t l_onoff;
    int32_t l_linger;
};

// epoll
constexpr uint64_t EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
constexpr uint64_t EPOLL_CLOEXEC = O_CLOEXEC;
constexpr uint32_t EPOLLIN = POLLIN, EPOLLPRI = POLLPRI, EPOLLOUT = POLLOUT, EPOLLERR = POLLERR,
                   EPOLLHUP = POLLHUP, EPOLLNVAL = POLLNVAL, EPOLLRDNORM = POLLRDNORM,
                   EPOLLRDBAND = POLLRDBAND, EPOLLWRNORM = POLLWRNORM, EPOLLWRBAND = POLLWRBAND,
                   EPOLLMSG = POLLMSG, EPOLLRDHUP = POLLRDHUP, EPOLLEXCLUSIVE = 1u << 28,
                   EPOLLWAKEUP = 1u << 29, EPOLLONESHOT = 1u << 30, EPOLLET = 1u << 31;
struct linux_epoll_event {
    uint32_t events;
    uint64_t data;
} __attribute__((packed));
static_assert(sizeof(linux_epoll_event) == 12);

// poll/select
struct linux_pollfd {
    int32_t fd;
    int16_t events;
    int16_t revents;
};
static_assert(sizeof(linux_pollfd) == 8);
constexpr uint64_t FD_SETSIZE = 1024;

// eventfd and timerfd
constexpr uint64_t EFD_SEMAPHORE = 1, EFD_CLOEXEC = O_CLOEXEC, EFD_NONBLOCK = O_NONBLOCK;
constexpr uint64_t TFD_CLOEXEC = O_CLOEXEC, TFD_NONBLOCK = O_NONBLOCK, TFD_TIMER_ABSTIME = 1,
                   TFD_TIMER_CANCEL_ON_SET = 2;
constexpr uint64_t CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_BOOTTIME = 7,
                   CLOCK_REALTIME_ALARM = 8, CLOCK_BOOTTIME_ALARM = 9;
struct linux_itimerspec {
    linux_timespec it_interval;
    linux_timespec it_value;
};
static_assert(sizeof(linux_itimerspec) == 32);

}  // namespace k
