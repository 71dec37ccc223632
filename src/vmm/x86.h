// x86.h - the x86-64 architectural bits the VMM writes into a vCPU or reads
// back: control registers, EFER, RFLAGS, MSR indices, descriptor types and
// the instruction bytes of patched syscall sites. Names follow the Intel SDM.
#pragma once

#include <cstdint>

namespace ember::x86 {

// ---- CR0, CR4, EFER ---------------------------------------------------------
constexpr uint64_t kCr0Pe = 1ull << 0;   // protected mode
constexpr uint64_t kCr0Mp = 1ull << 1;   // monitor coprocessor
constexpr uint64_t kCr0Et = 1ull << 4;   // extension type (always 1)
constexpr uint64_t kCr0Ne = 1ull << 5;   // native x87 error reporting
constexpr uint64_t kCr0Wp = 1ull << 16;  // write protect also at CPL 0
constexpr uint64_t kCr0Am = 1ull << 18;  // alignment mask
constexpr uint64_t kCr0Pg = 1ull << 31;  // paging

constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kCr4Osfxsr = 1ull << 9;       // FXSAVE/SSE enabled
constexpr uint64_t kCr4Osxmmexcpt = 1ull << 10;  // SIMD exceptions as #XM
constexpr uint64_t kCr4Fsgsbase = 1ull << 16;    // RDFSBASE & co at any CPL
constexpr uint64_t kCr4Osxsave = 1ull << 18;     // XSAVE and XCR0

constexpr uint64_t kEferSce = 1ull << 0;   // syscall/sysret
constexpr uint64_t kEferLme = 1ull << 8;   // long mode enable
constexpr uint64_t kEferLma = 1ull << 10;  // long mode active
constexpr uint64_t kEferNxe = 1ull << 11;  // no-execute page bit

// ---- RFLAGS -----------------------------------------------------------------
constexpr uint64_t kRflagsFixed = 1ull << 1;   // reserved, always 1
constexpr uint64_t kRflagsTf = 1ull << 8;      // trap (single step)
constexpr uint64_t kRflagsIf = 1ull << 9;      // interrupts enabled
constexpr uint64_t kRflagsDf = 1ull << 10;     // direction
constexpr uint64_t kRflagsIopl3 = 3ull << 12;  // I/O privilege level 3: port I/O at CPL 3
constexpr uint64_t kRflagsNt = 1ull << 14;     // nested task
constexpr uint64_t kRflagsAc = 1ull << 18;     // alignment check

// ---- XCR0 (XSAVE state components) ------------------------------------------
constexpr uint64_t kXcr0X87 = 1ull << 0;
constexpr uint64_t kXcr0Sse = 1ull << 1;
constexpr uint64_t kXcr0Avx = 1ull << 2;
constexpr uint64_t kXcr0Opmask = 1ull << 5;    // AVX-512 k0-k7
constexpr uint64_t kXcr0ZmmHi256 = 1ull << 6;  // AVX-512 upper halves of zmm0-15
constexpr uint64_t kXcr0Hi16Zmm = 1ull << 7;   // AVX-512 zmm16-31
constexpr uint32_t kCpuidLeafXsave = 0xd;      // CPUID.(EAX=0xd,ECX=0).EAX: XCR0 bits supported

// ---- MSR indices ------------------------------------------------------------
constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrStar = 0xc0000081;    // syscall/sysret selectors
constexpr uint32_t kMsrLstar = 0xc0000082;   // 64-bit syscall entry
constexpr uint32_t kMsrCstar = 0xc0000083;   // compat-mode syscall entry
constexpr uint32_t kMsrSfmask = 0xc0000084;  // RFLAGS bits cleared on syscall
constexpr uint32_t kMsrFsBase = 0xc0000100;
constexpr uint32_t kMsrGsBase = 0xc0000101;
constexpr uint32_t kMsrKernelGsBase = 0xc0000102;

// ---- segment and gate descriptors -------------------------------------------
// The 4-bit type field (SDM vol. 3, 3.4.5.1 and 3.5).
constexpr uint8_t kSegCodeExecReadAccessed = 0xb;   // code segment (S=1)
constexpr uint8_t kSegDataReadWriteAccessed = 0x3;  // data segment (S=1)
constexpr uint8_t kSysLdt = 0x2;                    // system descriptors (S=0)
constexpr uint8_t kSysTss64Busy = 0xb;
constexpr uint8_t kSysInterruptGate64 = 0xe;

constexpr uint64_t kDescPresent = 0x80;  // in the access byte
constexpr uint64_t kDescNonSystem = 0x10;
constexpr uint64_t kDescLong = 0x2;  // in the flags nibble: 64-bit code
constexpr uint64_t kDescDb = 0x4;    // 32-bit default operand size
constexpr uint64_t kDescGran4k = 0x8;

// A flat code or data descriptor (base 0, limit 4 GiB).
constexpr uint64_t flat_segment(uint8_t type, uint8_t dpl, uint64_t flags) {
    const uint64_t access = kDescPresent | (uint64_t{dpl} << 5) | kDescNonSystem | type;
    return 0xffffull | (access << 40) | ((0xfull | (flags << 4)) << 48);
}

// Linux's flat descriptors (arch/x86/include/asm/segment.h GDT_ENTRY_INIT).
static_assert(flat_segment(kSegCodeExecReadAccessed, 3, kDescGran4k | kDescLong) ==
              0x00affb000000ffffull);
static_assert(flat_segment(kSegDataReadWriteAccessed, 0, kDescGran4k | kDescDb) ==
              0x00cf93000000ffffull);

// The access byte of a present system descriptor (TSS, gate) at DPL 0.
constexpr uint64_t system_access(uint8_t type) { return kDescPresent | type; }

constexpr uint32_t kTss64Size = 104;       // bytes, without an I/O bitmap
constexpr uint32_t kTssIomapOffset = 102;  // where the I/O bitmap offset is
constexpr uint32_t kIdtVectors = 256;
constexpr uint32_t kIdtGateSize = 16;  // bytes of a 64-bit gate

// ---- exceptions -------------------------------------------------------------
constexpr uint32_t kVectorPageFault = 14;
// Page-fault error code bits.
constexpr uint64_t kPfProtection = 1ull << 0;  // 0: the page was not present
constexpr uint64_t kPfWrite = 1ull << 1;
constexpr uint64_t kPfFetch = 1ull << 4;  // instruction fetch

// ---- instruction bytes of patched syscall sites -----------------------------
constexpr uint8_t kInt3 = 0xcc;  // fills unused trampolines

}  // namespace ember::x86
