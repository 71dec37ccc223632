/*
 * ember_abi.h - the host/guest contract of Ember (version EMBER_ABI_VERSION).
 *
 * Shared verbatim by the VMM (host, C++20) and the guest kernel (freestanding
 * C++). Depends only on <stdint.h>/<stddef.h>. Fixed-width fields only;
 * structs only grow at the end; every field is marked IN (guest -> host) or
 * OUT (host -> guest) from the point of view of the guest. On the host side a
 * guest address is a plain uint64_t (a "GPA"), never a pointer.
 *
 * Machine layout (set up by the VMM before the first instruction):
 *   - long mode, identity-mapped page tables (GVA == GPA) with U=1 at every
 *     level; page 0 and the guard page below the kernel stack are unmapped.
 *   - the guest kernel and the application both run at CPL 3 (CS 0x33,
 *     SS 0x2b); IDT gates target selector 0x33; RFLAGS.IOPL = 3 so that the
 *     kernel may use port I/O for hypercalls.
 *   - the only code entered at CPL 0 is the kernel's syscall entry stub
 *     (MSR_LSTAR), which sysretq's into the kernel's CPL-3 handler.
 *
 * Hypercalls (control path): the guest executes
 *       outl %eax, $(EMBER_HC_PORT_BASE + nr)
 * with eax = the GPA of the call's argument struct (below 4 GiB, inside the
 * hypercall page). The VMM copies the struct out of guest memory, validates
 * the copy, acts, writes OUT fields back and stores the call's status in
 * ember_boot_info.hc_status (always written, even when the struct pointer was
 * bad). Status values are EMBER_OK or a negative EMBER_E* code.
 * EMBER_HC_EXIT and EMBER_HC_CRASH never return. A port outside the
 * hypercall range ends the VM with a diagnostic.
 */
#ifndef EMBER_ABI_H
#define EMBER_ABI_H

#include <stddef.h>
#include <stdint.h>

#define EMBER_ABI_VERSION 4u

/* ---- guest physical memory map (GPA == GVA) ---------------------------- */
#define EMBER_PAGE_SIZE 0x1000ull
#define EMBER_GPA_PML4 0x1000ull
#define EMBER_GPA_PDPT 0x2000ull
#define EMBER_GPA_PT0 0x3000ull /* 4 KiB pages for the first 2 MiB */
#define EMBER_GPA_PD 0x4000ull  /* EMBER_MAX_PD page directories */
#define EMBER_MAX_PD 8u         /* => at most 8 GiB of RAM + root filesystem */
#define EMBER_GPA_GDT 0xc000ull
#define EMBER_GPA_IDT 0xd000ull
#define EMBER_GPA_BOOT_INFO 0xe000ull /* struct ember_boot_info */
#define EMBER_GPA_HC_PAGE 0xf000ull   /* hypercall argument structs */
#define EMBER_GPA_CONSOLE 0x10000ull  /* struct ember_ring + data */
#define EMBER_CONSOLE_SIZE 0x10000ull
#define EMBER_GPA_STDIN 0x20000ull /* struct ember_ring + data */
#define EMBER_STDIN_SIZE 0x10000ull
#define EMBER_GPA_ARGS 0x30000ull /* argv then envp, NUL-separated */
#define EMBER_ARGS_SIZE 0x10000ull
#define EMBER_GPA_STACK_GUARD 0x40000ull /* unmapped */
#define EMBER_GPA_KSTACK_LO 0x41000ull
#define EMBER_GPA_KSTACK_TOP 0xa0000ull
#define EMBER_GPA_NET_RX 0xa0000ull /* struct ember_ring + net records, host -> guest */
#define EMBER_NET_RX_SIZE 0x20000ull
#define EMBER_GPA_NET_TX 0xc0000ull /* struct ember_ring + net records, guest -> host */
#define EMBER_NET_TX_SIZE 0x20000ull
#define EMBER_GPA_KERNEL 0x100000ull /* kernel image, at most 1 MiB */
#define EMBER_GPA_KERNEL_END 0x200000ull
#define EMBER_GPA_APP_MIN 0x200000ull /* lowest address an application may use */
#define EMBER_PIE_BASE 0x400000ull    /* load base of static-PIE executables */
/* Guest memory size: a multiple of EMBER_MEM_ALIGN (one large page of the
 * identity map) in [EMBER_MEM_MIN, EMBER_MEM_MAX]. Guest-physical memory is
 * RAM, [0, ram_size), then (when there is a root filesystem) its archive in
 * its own slot at rootfs_gpa, EMBER_MEM_ALIGN aligned, mapped by the VMM from
 * a host file (copy-on-write, never written by the kernel); mem_size, the
 * whole identity-mapped range, covers both. The archive starts at ram_size,
 * or above the syscall slots' 2 MiB (EMBER_ROOTFS_ABOVE_SLOTS) when it would
 * cover them; the gap between is memory nobody uses. */
#define EMBER_MEM_ALIGN (2ull << 20)
#define EMBER_MEM_MIN (8ull << 20)
#define EMBER_MEM_MAX ((uint64_t)EMBER_MAX_PD << 30)

/* ---- segment selectors (Linux's layout) -------------------------------- */
#define EMBER_SEL_KERNEL_CS 0x10u
#define EMBER_SEL_KERNEL_DS 0x18u
#define EMBER_SEL_USER_CS32 0x23u
#define EMBER_SEL_USER_DS 0x2bu
#define EMBER_SEL_USER_CS 0x33u

/* ---- the kernel image header ------------------------------------------- */
/* The first bytes of the kernel's lowest loadable segment (at
 * EMBER_GPA_KERNEL). The VMM reads it to find the entry points it installs in
 * RIP, MSR_LSTAR and the IDT. */
#define EMBER_KERNEL_MAGIC 0x4c4e524b52424d45ull /* "EMBRKRNL" */
#define EMBER_NUM_VECTORS 32u
struct ember_kernel_header {
    uint64_t magic;                           /* EMBER_KERNEL_MAGIC */
    uint32_t abi_version;                     /* EMBER_ABI_VERSION */
    uint32_t header_size;                     /* sizeof(struct ember_kernel_header) */
    uint64_t entry;                           /* RIP at boot; rdi = EMBER_GPA_BOOT_INFO */
    uint64_t syscall_entry;                   /* MSR_LSTAR (the CPL-0 stub) */
    uint64_t vector_entry[EMBER_NUM_VECTORS]; /* IDT gates 0..31 */
    uint64_t spurious_entry;                  /* IDT gates 32..255 */
    uint64_t fast_syscall_entry;              /* where the patched sites' trampolines jump */
};
#ifdef __cplusplus
static_assert(sizeof(struct ember_kernel_header) == 32 + 8 * 32 + 16, "kernel header size");
#endif

/* ---- patched syscall sites ---------------------------------------------- */
/* When boot_info.flags has EMBER_FLAG_SYSCALL_PATCH, the kernel may rewrite
 * an application syscall site it has trapped on so that later executions
 * take no trap. Only these instruction windows are rewritten, and only when
 * the trapped call's number equals the mov's immediate:
 *
 *   b8 i0 i1 i2 i3 0f 05        mov $imm32,%eax; syscall
 *   48 c7 c0 i0 i1 i2 i3 0f 05  mov $simm32,%rax; syscall
 *   b8 i0 i1 i2 i3, then up to 24 bytes of register-only instructions that
 *   leave rax alone (xor/mov between registers, mov of an immediate, lea),
 *   the last one 5 or 7 bytes long, then 0f 05
 *
 * One instruction, 5 or 7 bytes, right before the syscall (the mov in the
 * first two forms, the last instruction in the third) becomes `jmp *SLOT`
 * (ff 24 25 s0 s1 s2 s3): an absolute memory-indirect jump through the
 * site's 8-byte slot at EMBER_SLOT_VA + 8 * i. Slot addresses are
 * 0x050fxxxx, so in the 5-byte form the slot's two high bytes are the
 * `0f 05` that was already there: the `syscall` instruction itself is never
 * changed, and a jump straight to it (or a thread resumed before it) still
 * traps with whatever rax it has; every other instruction boundary of the
 * window is unchanged too. Slot i holds the address of trampoline i,
 * written by the kernel: it runs the replaced instruction (a rip-relative
 * lea with its displacement adjusted), loads the site's return address
 * into rcx, and jumps to the kernel's fast_syscall_entry, which takes the
 * number from rax. Nothing
 * is written to the application's stack (its red zone stays intact), every
 * syscall number reaches the ordinary dispatcher (ENOSYS as on Linux), and
 * a copy of patched code jumps through the same absolute slot (it resumes
 * after the original site: see docs/architecture.md).
 *
 * The slot pages are mapped read-only at EMBER_SLOT_VA (an alias of
 * EMBER_GPA_SLOTS made by one extra page table, EMBER_GPA_SLOT_PT) and at
 * their identity address; the RAM behind EMBER_SLOT_VA is not used. The VMM
 * fills the slots; the kernel writes the trampolines. Nothing here is read
 * by the VMM after boot: patches are never learnt from an instance. */
#define EMBER_GPA_SITES 0xe0000ull /* region for the three below */
#define EMBER_SITES_SIZE 0x20000ull
#define EMBER_GPA_SLOT_PT (EMBER_GPA_SITES)                 /* maps EMBER_SLOT_VA's 2 MiB */
#define EMBER_GPA_SLOTS (EMBER_GPA_SITES + EMBER_PAGE_SIZE) /* EMBER_SITES_MAX slots */
#define EMBER_SITES_MAX 1024u
#define EMBER_SLOTS_SIZE ((uint64_t)EMBER_SITES_MAX * 8u)
#define EMBER_GPA_TRAMPOLINES (EMBER_GPA_SLOTS + EMBER_SLOTS_SIZE)
#define EMBER_TRAMPOLINE_SIZE 32u
#define EMBER_SLOT_VA 0x050f0000ull
#define EMBER_SLOT_VA_2M (EMBER_SLOT_VA & ~((2ull << 20) - 1))
/* The lowest address of a root filesystem archive that would cover the
 * syscall slots if placed right above RAM (see the memory map). */
#define EMBER_ROOTFS_ABOVE_SLOTS (EMBER_SLOT_VA_2M + (2ull << 20))
#ifdef __cplusplus
static_assert(EMBER_GPA_TRAMPOLINES + (uint64_t)EMBER_SITES_MAX * EMBER_TRAMPOLINE_SIZE <=
                  EMBER_GPA_SITES + EMBER_SITES_SIZE,
              "syscall-site region");
static_assert(EMBER_SLOTS_SIZE % EMBER_PAGE_SIZE == 0, "slots fill whole pages");
static_assert(((EMBER_SLOT_VA + EMBER_SLOTS_SIZE - 1) >> 16) == 0x050f,
              "every slot address ends in the bytes 0f 05");
inline uint64_t ember_slot_va(uint32_t i) { return EMBER_SLOT_VA + 8ull * i; }
inline uint64_t ember_trampoline_gpa(uint32_t i) {
    return EMBER_GPA_TRAMPOLINES + (uint64_t)EMBER_TRAMPOLINE_SIZE * i;
}
#endif

/* ---- hypercalls -------------------------------------------------------- */
#define EMBER_HC_PORT_BASE 0x500u
/* Doorbell (hot path, no userspace exit): when boot_info.flags has
 * EMBER_FLAG_DOORBELL, the guest may `outb` any value to this port after
 * adding console records to an idle ring; the VMM serves it from an
 * ioeventfd and drains the ring while the guest runs. Protocol: the guest
 * publishes head, executes a full fence, then rings if tail equals the head
 * before its write; the VMM, after storing tail, fences and re-reads head. */
#define EMBER_DOORBELL_PORT 0x4f0u
enum ember_hc_nr {
    EMBER_HC_EXIT = 0,    /* struct ember_hc_exit; does not return */
    EMBER_HC_CONSOLE = 1, /* flush the console and net tx rings; no struct (eax ignored) */
    EMBER_HC_WAIT = 2,    /* struct ember_hc_wait: block until an event or deadline */
    EMBER_HC_RANDOM = 3,  /* struct ember_hc_random: fill a guest buffer */
    EMBER_HC_CRASH = 4,   /* struct ember_hc_crash; does not return */
    EMBER_HC_LOG = 5,     /* struct ember_hc_log: a kernel diagnostic line */
    EMBER_HC_READY = 6,   /* the application is initialised (explicit READY);
                             no struct. Returns when the instance continues,
                             possibly in another VM restored from a snapshot. */
    EMBER_HC_CLOCK = 7,   /* refresh the clock base in the boot-info page
                             (tsc_khz, tsc_base, mono_base_ns, wall_base_ns)
                             from the host's clocks; no struct */
    EMBER_HC_CR2 = 8,     /* struct ember_hc_cr2: the vCPU's CR2, for the
                             si_addr of a page fault's SIGSEGV (the kernel
                             runs at CPL 3 and cannot read it) */
    EMBER_HC_VOLUME = 9,  /* struct ember_hc_volume: one file operation on a
                             volume (a host directory); see "volumes" below */
    EMBER_HC_COUNT = 10
};

/* Status codes written to ember_boot_info.hc_status. */
#define EMBER_OK 0
#define EMBER_EFAULT (-1) /* a pointer or range outside guest memory */
#define EMBER_EINVAL (-2) /* a field out of range */
#define EMBER_ENOSYS (-3) /* unknown hypercall number */
#define EMBER_EAGAIN (-4)

struct ember_hc_exit {
    int32_t status; /* IN: exit status, 0-255 */
    uint32_t reserved;
};

/* Block until one of `events` is ready or the monotonic clock reaches
 * deadline_ns. Console output is flushed first. */
#define EMBER_WAIT_STDIN 0x1u /* the stdin ring has data or EOF */
#define EMBER_WAIT_NET 0x2u   /* the net rx ring has records */
#define EMBER_WAIT_IDLE 0x80u /* the application has nothing to do but wait */
struct ember_hc_wait {
    uint64_t deadline_ns; /* IN: guest monotonic ns; 0 = no deadline */
    uint32_t events;      /* IN: EMBER_WAIT_* set waited for */
    uint32_t ready;       /* OUT: EMBER_WAIT_* set that is ready */
};

#define EMBER_RANDOM_MAX 4096u
struct ember_hc_random {
    uint64_t buf; /* IN: GPA of the buffer */
    uint64_t len; /* IN: bytes, at most EMBER_RANDOM_MAX */
};

struct ember_hc_cr2 {
    uint64_t cr2; /* OUT: the last page fault's address */
};

/* Crash kinds */
#define EMBER_CRASH_EXCEPTION 1u /* CPU exception; vector/error_code valid */
#define EMBER_CRASH_KERNEL 2u    /* kernel assertion; message valid */
struct ember_hc_crash {
    uint32_t kind;             /* IN: EMBER_CRASH_* */
    uint32_t vector;           /* IN */
    uint64_t error_code;       /* IN */
    uint64_t cr2;              /* IN: faulting address for #PF */
    uint64_t rip, rsp, rflags; /* IN */
    uint64_t regs[16];         /* IN: rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
    int64_t syscall_nr;        /* IN: the syscall in progress, or -1 */
    char message[128];         /* IN: NUL-terminated (not trusted) */
};

#define EMBER_LOG_MAX 256u
struct ember_hc_log {
    uint64_t len;            /* IN: bytes in msg, at most EMBER_LOG_MAX */
    char msg[EMBER_LOG_MAX]; /* IN */
};

/* ---- rings (console out, stdin in) ------------------------------------- */
/* A single-producer single-consumer byte ring. head and tail are
 * free-running byte counters; data is at offset EMBER_RING_DATA from the ring
 * start and has (ring region size - EMBER_RING_DATA) bytes. The consumer must
 * treat head - tail > capacity as corruption. Console records are a 4-byte
 * header (uint16 len, uint8 fd, uint8 0) followed by len bytes. */
#define EMBER_RING_DATA 64u
struct ember_ring {
    uint64_t head;  /* written by the producer */
    uint64_t tail;  /* written by the consumer */
    uint32_t flags; /* EMBER_RING_EOF: producer will add no more data */
    uint32_t reserved;
};
#define EMBER_RING_EOF 0x1u
#define EMBER_CONSOLE_RECORD_MAX 4096u

/* ---- streams carried by the host (sockets) ------------------------------ */
/* The net rings carry records: a struct ember_net_rec header, then `len`
 * payload bytes, then padding to a multiple of 16. A record never wraps: when
 * it does not fit before the end of the ring's data area, the producer
 * writes an EMBER_NET_PAD record (len = bytes to skip) and starts again at
 * offset 0. Counters are free-running byte counts as for the other rings.
 *
 * Stream ids: the guest chooses ids below EMBER_NET_HOST_ID for its
 * listening and outbound sockets; the host chooses ids with that bit set for
 * inbound connections.
 *
 * Flow control: each direction of a stream starts with EMBER_NET_WINDOW_INIT
 * bytes of credit. A sender never has more data in flight than its credit;
 * the receiver returns credit with EMBER_NET_WINDOW records as the data is
 * consumed (guest: read by the application; host: written to the peer). */
#define EMBER_NET_HOST_ID 0x80000000u
#define EMBER_NET_WINDOW_INIT (256u * 1024u)
#define EMBER_NET_DATA_MAX (16u * 1024u) /* payload of one DATA record */
#define EMBER_NET_MAX_STREAMS 1024u      /* per instance, all kinds */
enum ember_net_type {
    EMBER_NET_PAD = 0, /* both: skip len bytes */
    /* guest -> host */
    EMBER_NET_LISTEN =
        1, /* stream = listener id, arg = guest port, payload ember_net_addr (bound address) */
    EMBER_NET_UNLISTEN = 2, /* stream = listener id */
    EMBER_NET_CONNECT = 3,  /* stream = new id, payload ember_net_addr (destination) */
    /* both directions */
    EMBER_NET_DATA = 4,     /* payload = bytes */
    EMBER_NET_WINDOW = 5,   /* arg = credit returned, in bytes */
    EMBER_NET_SHUTDOWN = 6, /* the sender will send no more data (FIN) */
    EMBER_NET_CLOSE =
        7, /* guest -> host: socket closed; host -> guest: stream reset, arg = errno */
    /* host -> guest */
    EMBER_NET_ACCEPT =
        8, /* stream = new host id, arg = listener id, payload ember_net_addr (peer) */
    EMBER_NET_CONNECTED = 9, /* stream, arg = 0 or a Linux errno (ECONNREFUSED, ...) */
    /* UDP through the host (see "datagrams" below); `stream` is a datagram
     * socket id, a name space of its own */
    EMBER_NET_DGRAM = 10,       /* both: payload = ember_net_addr (guest -> host: the
                                   destination; host -> guest: the source), then the
                                   datagram's bytes */
    EMBER_NET_DGRAM_ERROR = 11, /* host -> guest: a datagram was refused, arg = errno
                                   (ECONNREFUSED: egress denies it; ENOBUFS: no host
                                   socket); payload = ember_net_addr (destination) */
    EMBER_NET_DGRAM_CLOSE = 12, /* guest -> host: the socket is closed */
};
struct ember_net_rec {
    uint16_t type;  /* enum ember_net_type */
    uint16_t flags; /* 0 */
    uint32_t stream;
    uint32_t len; /* payload bytes after this header */
    uint32_t arg;
};
#define EMBER_NET_AF_INET 2u
#define EMBER_NET_AF_INET6 10u
struct ember_net_addr {
    uint16_t family; /* EMBER_NET_AF_INET or EMBER_NET_AF_INET6 */
    uint16_t port;   /* host byte order */
    uint32_t reserved;
    uint8_t addr[16]; /* IPv4 in the first 4 bytes, network order */
};
/* Datagrams: a guest UDP socket that sends to a destination outside the
 * instance gets a datagram socket id (guest-chosen, below EMBER_NET_HOST_ID)
 * and, on the host, a UDP socket of its own bound to an ephemeral port,
 * created at its first datagram. A record is one whole datagram; nothing is
 * credited: either side drops datagrams it has no room for, as UDP does.
 * The host answers DNS queries sent to EMBER_NET_DNS_ADDR port 53 itself
 * (A/AAAA for the names the egress policy allows; NXDOMAIN for the others).
 * At most EMBER_NET_MAX_DGRAM host sockets per instance. */
#define EMBER_NET_DGRAM_MAX (EMBER_NET_DATA_MAX - 24u) /* payload of one datagram */
#define EMBER_NET_MAX_DGRAM 64u
#define EMBER_NET_DNS_ADDR 0xa9fe0035u /* 169.254.0.53, host byte order */
#define EMBER_NET_DNS_PORT 53u
#ifdef __cplusplus
static_assert(EMBER_GPA_NET_TX + EMBER_NET_TX_SIZE <= EMBER_GPA_SITES &&
                  EMBER_GPA_SITES + EMBER_SITES_SIZE <= EMBER_GPA_KERNEL,
              "low memory map");
static_assert(sizeof(struct ember_net_rec) == 16, "net record header");
static_assert(sizeof(struct ember_net_addr) == 24, "net address");
static_assert(EMBER_NET_DGRAM_MAX + sizeof(struct ember_net_addr) == EMBER_NET_DATA_MAX,
              "a datagram record is at most a DATA record");
#endif

/* ---- volumes ------------------------------------------------------------ */
/* A volume is a host directory mounted at an absolute guest path. The guest
 * kernel resolves paths itself (symlinks, "..") and sends the host only
 * normalised paths relative to the volume's root: components separated by
 * one '/', none empty, "." or "..", no NUL, at most EMBER_VOLUME_PATH_MAX
 * bytes; "" names the root. The host resolves them beneath the volume's
 * directory without following any symlink, and refuses anything else with
 * -EINVAL. The operations are stateless (no host descriptor outlives a
 * call), so a snapshot holds no host state of a volume. Every buffer (path,
 * path2, buf) is guest memory of the kernel; results are Linux errnos in
 * `result`; hc_status is EMBER_OK unless the struct itself was bad. A
 * read-only volume (the host's configuration decides, the guest's flag only
 * informs) refuses changes with -EROFS; a volume with a quota refuses
 * growth past it with -ENOSPC. */
#define EMBER_VOLUMES_MAX 4u
#define EMBER_VOLUME_MOUNT_MAX 112u      /* guest mount path, with the NUL */
#define EMBER_VOLUME_PATH_MAX 4096u      /* a path inside a volume */
#define EMBER_VOLUME_IO_MAX (256u << 10) /* bytes of one read, write or readdir */
#define EMBER_VOLUME_RO 0x1u
struct ember_boot_volume {
    char mount[EMBER_VOLUME_MOUNT_MAX]; /* OUT: absolute guest path, NUL-terminated */
    uint32_t flags;                     /* OUT: EMBER_VOLUME_* */
    uint32_t reserved;
    uint64_t reserved2;
};
enum ember_vol_op {
    EMBER_VOL_STAT = 1,      /* path: lstat into st */
    EMBER_VOL_READ = 2,      /* path: pread len bytes at offset into buf */
    EMBER_VOL_WRITE = 3,     /* path: pwrite len bytes at offset (flags: EMBER_VOL_APPEND);
                                st.size = the size after */
    EMBER_VOL_CREATE = 4,    /* path: a regular file (mode; flags: EMBER_VOL_EXCL); st */
    EMBER_VOL_TRUNCATE = 5,  /* path: size = offset */
    EMBER_VOL_MKDIR = 6,     /* path, mode */
    EMBER_VOL_RMDIR = 7,     /* path */
    EMBER_VOL_UNLINK = 8,    /* path (not a directory) */
    EMBER_VOL_RENAME = 9,    /* path -> path2 (flags: EMBER_VOL_NOREPLACE) */
    EMBER_VOL_SYMLINK = 10,  /* path = a new symlink whose target is buf[0..len) */
    EMBER_VOL_READLINK = 11, /* path: target into buf (at most len); result = bytes */
    EMBER_VOL_READDIR = 12,  /* path: linux_dirent64 records from the host position
                                `offset` (0 = start) into buf; result = bytes, 0 at
                                the end; each record's d_off is the next position */
    EMBER_VOL_FSYNC = 13,    /* path: fsync (flags: EMBER_VOL_DATASYNC); returns
                                once the host's fsync did */
    EMBER_VOL_STATFS = 14,   /* st.size = quota bytes (0: none), st.blocks = used bytes */
    EMBER_VOL_CHMOD = 15,    /* path (a file or directory, "" the root): permission bits
                                = mode */
    EMBER_VOL_UTIMES = 16,   /* path (as CHMOD): buf = two int64 (atime, mtime in ns since
                                the epoch; -1 leaves one as it is), len = 16 */
    EMBER_VOL_LINK = 17,     /* path2 = a new hard link to path (not a directory) */
};
#define EMBER_VOL_APPEND 0x1u
#define EMBER_VOL_EXCL 0x2u
#define EMBER_VOL_NOREPLACE 0x4u
#define EMBER_VOL_DATASYNC 0x8u
struct ember_vol_stat {
    uint64_t ino;                         /* OUT */
    uint64_t size;                        /* OUT */
    uint64_t blocks;                      /* OUT: 512-byte units */
    uint32_t mode;                        /* OUT: S_IFMT | permissions */
    uint32_t nlink;                       /* OUT */
    int64_t atime_ns, mtime_ns, ctime_ns; /* OUT */
};
struct ember_hc_volume {
    uint32_t op;              /* IN: enum ember_vol_op */
    uint32_t volume;          /* IN: index in boot_info.volumes */
    uint64_t path;            /* IN: GPA */
    uint32_t path_len;        /* IN: bytes, no NUL */
    uint32_t path2_len;       /* IN */
    uint64_t path2;           /* IN: GPA (RENAME) */
    uint64_t buf;             /* IN: GPA */
    uint64_t len;             /* IN: bytes of buf, at most EMBER_VOLUME_IO_MAX */
    uint64_t offset;          /* IN */
    uint32_t flags;           /* IN: EMBER_VOL_* */
    uint32_t mode;            /* IN: permission bits */
    int64_t result;           /* OUT: >= 0, or a negative Linux errno */
    struct ember_vol_stat st; /* OUT */
};
#ifdef __cplusplus
static_assert(sizeof(struct ember_boot_volume) == 128, "boot volume entry");
static_assert(sizeof(struct ember_vol_stat) == 56, "volume stat");
static_assert(sizeof(struct ember_hc_volume) == 64 + 8 + 56, "volume hypercall");
#endif

/* ---- the boot-info page ------------------------------------------------ */
#define EMBER_BOOT_MAGIC 0x544f4f4252424d45ull /* "EMBRBOOT" */
#define EMBER_HOST_HARDWARE 1u                 /* VT-x / AMD-V KVM */
#define EMBER_HOST_PVM 2u                      /* kvm_pvm (ring compression) */
#define EMBER_FLAG_TRACE_SYSCALLS 0x1u
#define EMBER_FLAG_STDIN_SNAPSHOT 0x2u
#define EMBER_FLAG_DOORBELL 0x4u
#define EMBER_FLAG_SYSCALL_PATCH 0x8u
#define EMBER_BOOT_EXECFN_MAX 256u
#define EMBER_PREEMPT_SLICE_NS 10000000ull /* default time slice */
struct ember_boot_info {
    uint64_t magic;       /* OUT: EMBER_BOOT_MAGIC */
    uint32_t abi_version; /* OUT */
    uint32_t host_kind;   /* OUT: EMBER_HOST_* */
    uint64_t flags;       /* OUT: EMBER_FLAG_* */
    uint64_t mem_size;    /* OUT: identity-mapped bytes from GPA 0 (RAM + rootfs slot) */
    /* clock: guest monotonic ns = mono_base_ns + (rdtsc - tsc_base) * 1e6 / tsc_khz */
    uint64_t tsc_khz;     /* OUT */
    uint64_t tsc_base;    /* OUT */
    int64_t mono_base_ns; /* OUT */
    int64_t wall_base_ns; /* OUT: CLOCK_REALTIME ns at tsc_base */
    /* the application image (placed by the VMM) */
    uint64_t entry;              /* OUT: RIP of the application */
    uint64_t phdr;               /* OUT: GVA of the program headers */
    uint64_t phent, phnum;       /* OUT */
    uint64_t load_bias;          /* OUT: 0 for ET_EXEC */
    uint64_t image_lo, image_hi; /* OUT: page-aligned range of loaded segments */
    /* argv/envp strings at EMBER_GPA_ARGS */
    uint32_t argc, envc;                /* OUT */
    uint64_t args_size;                 /* OUT: bytes used at EMBER_GPA_ARGS */
    char execfn[EMBER_BOOT_EXECFN_MAX]; /* OUT: guest path of the executable */
    /* root filesystem: a cpio "newc" archive in its own slot above RAM
     * (see the memory map), read-only use */
    uint64_t rootfs_gpa, rootfs_size; /* OUT */
    uint64_t random_seed[4];          /* OUT: fresh entropy */
    uint64_t seed_generation;         /* OUT: bumped when random_seed is replaced */
    int64_t hc_status;                /* OUT: status of the last hypercall */
    /* statistics kept by the kernel (read by the VMM) */
    uint64_t stat_syscalls;         /* IN */
    uint64_t stat_hypercalls;       /* IN */
    int64_t cur_syscall;            /* IN: syscall in progress or -1 */
    uint64_t cpu_hwcap, cpu_hwcap2; /* OUT: AT_HWCAP / AT_HWCAP2 */
    uint64_t tsc_app_start;         /* IN: TSC when the kernel entered the application */
    uint64_t tsc_kernel_start;      /* IN: TSC at the kernel's first instruction */
    uint64_t stat_fast_syscalls;    /* IN: syscalls that came through a patched site */
    /* Preemption (time slices without guest interrupts). While
     * preempt_want is nonzero (another thread is runnable), the VMM may,
     * every EMBER_PREEMPT_SLICE_NS, stop the vCPU; if it was running
     * application code (RIP >= EMBER_GPA_APP_MIN: never the kernel, its
     * CPL-0 stub or the trampolines), the VMM stores the interrupted
     * registers in preempt_regs and re-enters the vCPU at preempt_entry with
     * RFLAGS = 0x3002; the kernel saves the rest of the state, runs another
     * thread, and later resumes this one from preempt_regs. */
    uint64_t preempt_entry;    /* IN: the kernel's preemption entry; 0 = none */
    uint32_t preempt_want;     /* IN: nonzero while another thread is runnable */
    uint32_t preempt_reserved; /* IN: 0 */
    uint64_t preempt_regs[18]; /* OUT: rax rcx rdx rbx rsp rbp rsi rdi r8..r15 rip rflags */
    /* A dynamically linked program's interpreter, placed by the VMM between
     * the page pool and the root filesystem (interp_hi == 0: none). The
     * kernel starts the interpreter at interp_entry with AT_BASE =
     * interp_base and AT_ENTRY = entry (the program's). */
    uint64_t interp_base, interp_entry; /* OUT */
    uint64_t interp_lo, interp_hi;      /* OUT: page-aligned */
    /* The initial working directory ("" = "/"), e.g. an image's WorkingDir. */
    char cwd[EMBER_BOOT_EXECFN_MAX]; /* OUT */
    /* Processes (for --stats): address-space switches (CR3 loads, TLB
     * flushes included) and forks, with the TSC cycles they took. */
    uint64_t stat_cr3_loads, stat_cr3_tsc;  /* IN */
    uint64_t stat_forks, stat_fork_tsc;     /* IN */
    uint64_t stat_cow_faults, stat_cow_tsc; /* IN */
    /* Volumes: host directories mounted at guest paths (see "volumes"). */
    uint32_t volume_count;                               /* OUT: entries of volumes[] in use */
    uint32_t volume_reserved;                            /* OUT: 0 */
    struct ember_boot_volume volumes[EMBER_VOLUMES_MAX]; /* OUT */
    /* Bytes of RAM from GPA 0: the kernel's page pool ends here (or below
     * the interpreter); [ram_size, mem_size) is the root filesystem's slot. */
    uint64_t ram_size; /* OUT */
    /* Bumped by the kernel (odd while it changes them) around every change
     * of the clock base it causes, so the vDSO's lock-free read of
     * tsc_base, mono_base_ns and wall_base_ns can tell that a preemption
     * split it around another thread's clock sync, and read again. */
    uint32_t clock_seq;      /* IN */
    uint32_t clock_reserved; /* IN: 0 */
};
#ifdef __cplusplus
static_assert(sizeof(struct ember_boot_info) <= EMBER_PAGE_SIZE, "boot info fits a page");
static_assert(offsetof(struct ember_boot_info, tsc_khz) == 32, "boot info layout");
#endif

/* Hypercall page layout: one slot per call kind so calls never overlap. */
#define EMBER_HC_SLOT_EXIT (EMBER_GPA_HC_PAGE + 0x000)
#define EMBER_HC_SLOT_WAIT (EMBER_GPA_HC_PAGE + 0x040)
#define EMBER_HC_SLOT_RANDOM (EMBER_GPA_HC_PAGE + 0x080)
#define EMBER_HC_SLOT_LOG (EMBER_GPA_HC_PAGE + 0x100)
#define EMBER_HC_SLOT_CRASH (EMBER_GPA_HC_PAGE + 0x400)
#define EMBER_HC_SLOT_CR2 (EMBER_GPA_HC_PAGE + 0x0c0)
#define EMBER_HC_SLOT_VOLUME (EMBER_GPA_HC_PAGE + 0x600)
#ifdef __cplusplus
static_assert(EMBER_HC_SLOT_CRASH + sizeof(struct ember_hc_crash) <= EMBER_HC_SLOT_VOLUME &&
                  EMBER_HC_SLOT_VOLUME + sizeof(struct ember_hc_volume) <=
                      EMBER_GPA_HC_PAGE + EMBER_PAGE_SIZE,
              "hypercall slots");
#endif

/* The Ember-specific syscall an application may make to declare itself
 * READY (initialised; take the snapshot here): syscall(EMBER_SYS_READY).
 * Returns 0 in the guest, and -ENOSYS on Linux, so programs can call it
 * unconditionally. */
#define EMBER_SYS_READY 500

/* Exit statuses of ember-vm beyond the application's own 0-255 are
 * reported by the host tool, not by this ABI. */

#endif /* EMBER_ABI_H */
