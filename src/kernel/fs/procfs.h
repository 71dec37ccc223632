// procfs.h - /proc and /sys (private to fs/): the node ids, the text
// builder the files are generated with, and the generators.
//
// Nothing is generated ahead of use: a directory gets its entries at its
// first lookup or getdents (fd/ and task/ are brought up to date at every
// one), and a file's text is produced when it is read (procfs.cpp).
#pragma once

#include "fs/fd.h"

namespace k::fs::proc {

// Every kind of /proc and /sys node (Inode::proc). Directories, then
// links, then files.
enum Node : uint8_t {
    kNoNode,
    // directories
    kRootDir,  // /proc
    kPidDir,   // /proc/<pid>
    kFdDir,    // /proc/<pid>/fd: one link per open fd
    kTaskDir,  // /proc/<pid>/task: one directory per thread
    kTidDir,   // /proc/<pid>/task/<tid>
    kSysDir,   // /proc/sys
    kSysKernelDir,
    kSysRandomDir,
    kSysVmDir,
    kSysNetDir,
    kSysNetCoreDir,
    kSysfsRoot,  // /sys
    kSysfsDevicesDir,
    kSysfsSystemDir,
    kSysfsCpuDir,
    kSysfsCpu0Dir,
    kSysfsKernelDir,
    kSysfsMmDir,
    kSysfsThpDir,
    kLastDir = kSysfsThpDir,
    // links
    kSelfLink,
    kThreadSelfLink,
    kMountsLink,
    kExeLink,
    kCwdLink,
    kRootLink,
    kFdLink,
    kLastLink = kFdLink,
    // files about the process or one thread (proc_pid.cpp)
    kAuxv,
    kCmdline,
    kComm,
    kEnviron,
    kMaps,
    kMounts,
    kMountinfo,
    kPidStat,
    kStatm,
    kStatus,
    // files about the system (proc_sys.cpp)
    kCpuinfo,
    kMeminfo,
    kStat,
    kUptime,
    kLoadavg,
    kVersion,
    kFilesystems,
    kKernelCmdline,
    kHostname,
    kOsrelease,
    kOstype,
    kKernelVersion,
    kPidMax,
    kThreadsMax,
    kCapLastCap,
    kBootId,
    kUuid,
    kEntropyAvail,
    kOvercommit,
    kMaxMapCount,
    kSomaxconn,
    kCpuOnline,  // also possible and present
    kCpuKernelMax,
    kThpEnabled,
    kThpDefrag,
    kThpPmdSize,
};

inline bool is_dir_node(uint8_t n) { return n != kNoNode && n <= kLastDir; }
inline bool is_link_node(uint8_t n) { return n > kLastDir && n <= kLastLink; }

// A growing text buffer (kmalloc'd). Out of memory, it stops growing and
// `failed` is set; the caller reports -ENOMEM.
struct Text {
    char* data = nullptr;
    uint64_t len = 0, cap = 0;
    bool failed = false;

    void put(const char* s, uint64_t n);
    void put(const char* s);
    void ch(char c) { put(&c, 1); }
    // Decimal, right-aligned in width columns.
    void num(uint64_t v, uint32_t width = 0);
    void snum(int64_t v);
    // Lower-case hex, zero-padded to width digits.
    void hex(uint64_t v, uint32_t width = 0);
    // Spaces up to column col of the current line.
    void pad_to(uint64_t line_start, uint64_t col);
    // "Label:\t<n> kB\n" with n right-aligned in 8 columns (status, meminfo).
    void kb(const char* label, uint64_t bytes, uint32_t width = 8);
    void release();
};

// Generates a file's text; false when the node is not a file.
// pid: the process the node is about; arg: its tid (or the pid).
bool generate(uint8_t node, int32_t pid, int32_t arg, Text& t);
bool generate_pid_file(uint8_t node, int32_t pid, int32_t tid, Text& t);  // proc_pid.cpp
bool generate_sys_file(uint8_t node, Text& t);                            // proc_sys.cpp

// Shared facts.
uint64_t uptime_ns();
uint64_t clock_ticks(uint64_t ns);  // USER_HZ = 100, as AT_CLKTCK says

}  // namespace k::fs::proc
