// make_seeds.cpp - writes the seed corpora of the fuzz targets:
//   fuzz_seeds <dir>   ->  <dir>/<target>/<seed>
// For each target a few valid inputs, made by the real writers where Ember
// has one (snapshot::write, cpio::Writer), and a few malformed ones. Seeds
// stay small (a few KB) so the corpora can be checked in
// (tests/fuzz/corpus); regenerate them with `scripts/fuzz.sh --seeds`.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "abi/ember_abi.h"
#include "fuzz_input.h"
#include "vmm/cpio_writer.h"
#include "vmm/snapshot.h"

using namespace ember;
using namespace ember::fuzz;

namespace {

std::string g_dir;

void save(const std::string& target, const std::string& name, const std::string& bytes) {
    const std::string dir = g_dir + "/" + target;
    mkdir(dir.c_str(), 0755);
    std::ofstream f(dir + "/" + name, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) {
        std::fprintf(stderr, "fuzz_seeds: cannot write %s/%s\n", dir.c_str(), name.c_str());
        std::exit(1);
    }
}

std::string str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// ---- ELF ---------------------------------------------------------------------
struct Ph {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz;
};

std::string elf(uint16_t type, uint64_t entry, const std::vector<Ph>& phdrs, size_t file_size) {
    std::string v(std::max<size_t>(file_size, 64 + phdrs.size() * 56), '\0');
    auto put = [&](size_t off, uint64_t x, int n) {
        for (int i = 0; i < n; ++i) v[off + i] = static_cast<char>(x >> (8 * i));
    };
    v.replace(0, 7,
              "\x7f"
              "ELF\x02\x01\x01",
              7);
    put(16, type, 2);
    put(18, 62, 2);  // x86-64
    put(20, 1, 4);
    put(24, entry, 8);
    put(32, 64, 8);
    put(52, 64, 2);
    put(54, 56, 2);
    put(56, phdrs.size(), 2);
    for (size_t i = 0; i < phdrs.size(); ++i) {
        const Ph& p = phdrs[i];
        const size_t o = 64 + i * 56;
        put(o, p.type, 4);
        put(o + 4, p.flags, 4);
        put(o + 8, p.offset, 8);
        put(o + 16, p.vaddr, 8);
        put(o + 24, p.vaddr, 8);
        put(o + 32, p.filesz, 8);
        put(o + 40, p.memsz, 8);
        put(o + 48, 0x1000, 8);
    }
    return v;
}

void elf_seeds() {
    constexpr uint32_t kLoad = 1, kInterp = 3, kTls = 7, kPhdr = 6;
    constexpr uint32_t R = 4, W = 2, X = 1;
    save("elf", "valid_exec",
         elf(2, 0x400100,
             {{kLoad, R | X, 0, 0x400000, 0x400, 0x400},
              {kLoad, R | W, 0x400, 0x401400, 0x100, 0x2000}},
             0x500));
    save("elf", "valid_pie",
         elf(3, 0x100,
             {{kPhdr, R, 64, 64, 4 * 56, 4 * 56},
              {kLoad, R | X, 0, 0, 0x300, 0x300},
              {kLoad, R | W, 0x300, 0x1300, 0x80, 0x1000},
              {kTls, R, 0x300, 0x1300, 0x20, 0x40}},
             0x380));
    save("elf", "bad_interp",
         elf(2, 0x400100,
             {{kInterp, R, 0x200, 0, 0x10, 0x10}, {kLoad, R | X, 0, 0x400000, 0x300, 0x300}},
             0x300));
    save(
        "elf", "bad_overlap",
        elf(2, 0x400100,
            {{kLoad, R | X, 0, 0x400000, 0x300, 0x300}, {kLoad, R | W, 0, 0x400000, 0x100, 0x2000}},
            0x300));
    save("elf", "bad_entry", elf(2, 0x900000, {{kLoad, R | X, 0, 0x400000, 0x200, 0x200}}, 0x200));
    save("elf", "bad_file_range",
         elf(2, 0x400100, {{kLoad, R | X, 0, 0x400000, 0x100000, 0x100000}}, 0x200));
    save("elf", "bad_truncated",
         elf(2, 0x400100, {{kLoad, R | X, 0, 0x400000, 0x200, 0x200}}, 0x200).substr(0, 40));
}

// ---- cpio ----------------------------------------------------------------------
void cpio_seeds() {
    cpio::Writer w;
    const std::string hello = "hello\n";
    const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(hello.data()),
                                        hello.size());
    if (!w.add_dir("etc") || !w.add_file("etc/hello.txt", data, 0600) ||
        !w.add_symlink("bin/sh", "busybox") || !w.add_file("bin/busybox", data, 0755))
        std::exit(1);
    const std::string archive = str(w.finish());
    save("cpio", "valid_tree", archive);
    cpio::Writer empty;
    save("cpio", "valid_empty", str(empty.finish()));
    save("cpio", "bad_truncated", archive.substr(0, archive.size() / 2));
    std::string magic = archive;
    magic[5] = '9';
    save("cpio", "bad_magic", magic);
    std::string size = archive;
    // The first entry's c_filesize (offset 54, 8 hex digits) beyond the archive.
    size.replace(54, 8, "7fffffff");
    save("cpio", "bad_filesize", size);
    std::string dotdot = archive;
    if (const auto at = dotdot.find("etc/hello.txt"); at != std::string::npos)
        dotdot.replace(at, 13, "../hello.txt\0", 13);
    save("cpio", "bad_dotdot", dotdot);
}

// ---- snapshot ------------------------------------------------------------------
// The file written by snapshot::write, cut after its last present page (the
// harness extends it with a hole); where the sections are comes from the
// reader, so this follows the format. The CPU features are cleared so that
// the seed opens on any host; the header checksum then no longer matches,
// which the fuzzing build does not check.
std::string clear_features(std::string file) {
    const snapshot::CpuFeatures f = snapshot::CpuFeatures::of_this_host();
    Script enc;
    enc.u64(f.xcr0)
        .u32(f.cpuid1_ecx)
        .u32(f.cpuid1_edx)
        .u32(f.cpuid7_ebx)
        .u32(f.cpuid7_ecx)
        .u32(f.cpuid7_edx);
    const auto at = file.substr(0, snapshot::kHeaderSize).find(enc.data());
    if (at != std::string::npos) file.replace(at, enc.data().size(), enc.data().size(), '\0');
    return file;
}

void snapshot_seeds() {
    auto mem = GuestMemory::create_anonymous(EMBER_MEM_MIN);
    if (!mem) std::exit(1);
    snapshot::VcpuState vcpu;
    vcpu.regs.rip = 0x101000;
    vcpu.regs.rsp = 0x9f000;
    vcpu.regs.rflags = 2;
    vcpu.sregs.cr0 = 0x80050033;
    vcpu.sregs.cr4 = 0x6a0;
    vcpu.sregs.efer = 0xd01;
    vcpu.xcr0 = 3;
    vcpu.debugregs.dr7 = 0x400;
    vcpu.msrs = {{0xc0000081, 0x23001000000000}, {0xc0000082, 0x101000}, {0xc0000100, 0}};
    snapshot::VmmState vmm;
    vmm.ready_call = EMBER_HC_WAIT;
    vmm.ready_arg = EMBER_GPA_HC_PAGE;
    vmm.listeners = {{1, 8080}};
    const std::string path = g_dir + "/.snapshot.tmp";
    auto write_cut = [&](bool with_page) -> std::string {
        if (with_page) std::memset(mem->host_base(), 0x5a, EMBER_PAGE_SIZE);
        auto fail = [&](const std::string& why) {
            std::fprintf(stderr, "fuzz_seeds: snapshot: %s\n", why.c_str());
            std::exit(1);
        };
        if (auto st = snapshot::write(path, *mem, vcpu, vmm, 2000000); !st) fail(st.message());
        auto snap = snapshot::Snapshot::open(path);
        if (!snap) fail(snap.status().message());
        const uint64_t mem_offset = (*snap)->header().mem_offset;
        std::ifstream f(path, std::ios::binary);
        std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        unlink(path.c_str());
        return clear_features(s.substr(0, mem_offset + (with_page ? EMBER_PAGE_SIZE : 0)));
    };
    const std::string empty = write_cut(false);
    const std::string page = write_cut(true);
    save("snapshot", "valid_no_pages", empty);
    save("snapshot", "valid_one_page", page);
    save("snapshot", "bad_header_only", empty.substr(0, snapshot::kHeaderSize));
    save("snapshot", "bad_short", empty.substr(0, 100));
    std::string magic = empty;
    magic[0] = 'X';
    save("snapshot", "bad_magic", magic);
    std::string version = empty;
    version[8] = 99;  // the format version follows the magic
    save("snapshot", "bad_version", version);
    std::string state = page;
    for (size_t i = snapshot::kHeaderSize + 100; i < snapshot::kHeaderSize + 400; i += 7)
        state[i] = static_cast<char>(~state[i]);
    save("snapshot", "bad_state", state);
}

// ---- net ring ------------------------------------------------------------------
Script& net_record(Script& s, uint16_t type, uint32_t stream, uint32_t arg,
                   const std::string& payload) {
    return s.u8(kNetTxRecord)
        .u16(type)
        .u32(stream)
        .u32(arg)
        .u16(static_cast<uint16_t>(payload.size()))
        .str(payload);
}

std::string net_addr(uint16_t family, uint16_t port, std::initializer_list<uint8_t> addr) {
    ember_net_addr a{};
    a.family = family;
    a.port = port;
    std::copy(addr.begin(), addr.end(), a.addr);
    return std::string(reinterpret_cast<const char*>(&a), sizeof a);
}

void net_seeds() {
    const std::string any4 = net_addr(EMBER_NET_AF_INET, 8080, {0, 0, 0, 0});
    const uint32_t h1 = EMBER_NET_HOST_ID | 1;
    {
        // A server: listen, a client arrives and sends a request, the guest
        // answers, returns credit, shuts down and closes.
        Script s;
        net_record(s, EMBER_NET_LISTEN, 1, 8080, any4).u8(kNetDrain);
        s.u8(kNetAdopt).u16(8080).u8(kNetPeerSend).u8(0).u16(18).str("GET / HTTP/1.1\r\n\r\n");
        s.u8(kNetHostEvents).u8(kNetRxConsume);
        net_record(s, EMBER_NET_WINDOW, h1, 18, "");
        net_record(s, EMBER_NET_DATA, h1, 0, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        net_record(s, EMBER_NET_SHUTDOWN, h1, 0, "").u8(kNetDrain);
        s.u8(kNetPeerClose).u8(0).u8(kNetHostEvents).u8(kNetRxConsume);
        net_record(s, EMBER_NET_CLOSE, h1, 0, "")
            .u8(kNetDrain)
            .u8(kNetHostEvents)
            .u8(kNetRxConsume);
        save("net_ring", "valid_server", s.data());
    }
    {
        // Outbound connects: denied (no egress rule), an unknown family.
        Script s;
        net_record(s, EMBER_NET_CONNECT, 5, 0, net_addr(EMBER_NET_AF_INET, 80, {127, 0, 0, 1}));
        net_record(s, EMBER_NET_CONNECT, 6, 0, net_addr(EMBER_NET_AF_INET6, 443, {0xfe, 0x80}));
        net_record(s, EMBER_NET_CONNECT, 7, 0, net_addr(99, 1, {}));
        s.u8(kNetDrain).u8(kNetHostEvents).u8(kNetRxConsume);
        net_record(s, EMBER_NET_CLOSE, 5, 0, "");
        net_record(s, EMBER_NET_UNLISTEN, 1, 0, "").u8(kNetDrain);
        save("net_ring", "valid_connect_denied", s.data());
    }
    {
        // Records that wrap: the counters start near the end of the ring.
        Script s;
        const uint64_t near_end = EMBER_NET_TX_SIZE - EMBER_RING_DATA - 48;
        s.u8(kNetTxCounters).u64(near_end).u64(near_end);
        net_record(s, EMBER_NET_LISTEN, 2, 9000, any4);
        net_record(s, EMBER_NET_LISTEN, 3, 9001, any4).u8(kNetDrain);
        s.u8(kNetAdopt).u16(9001).u8(kNetHostEvents).u8(kNetRxConsume);
        save("net_ring", "valid_wrap", s.data());
    }
    {
        ember_net_rec huge{EMBER_NET_DATA, 0, 1, 0xfffffff0u, 0};
        Script s;
        s.u8(kNetTxBytes).u16(sizeof huge).bytes(&huge, sizeof huge);
        save("net_ring", "bad_record_len", s.data());
    }
    {
        Script s;
        s.u8(kNetTxCounters).u64(~0ull).u64(0).u8(kNetRxTail).u64(1ull << 40);
        s.u8(kNetAdopt).u16(1).u8(kNetHostEvents).u8(kNetRxConsume);
        save("net_ring", "bad_counters", s.data());
    }
    {
        // Data beyond the credit, data after shutdown, a listen on port 0.
        Script s;
        net_record(s, EMBER_NET_LISTEN, 1, 0, any4);
        net_record(s, EMBER_NET_LISTEN, 1, 8080, any4).u8(kNetDrain);
        s.u8(kNetAdopt).u16(8080);
        net_record(s, EMBER_NET_SHUTDOWN, h1, 0, "");
        net_record(s, EMBER_NET_DATA, h1, 0, "late");
        net_record(s, EMBER_NET_WINDOW, h1, 0xffffffffu, "");
        net_record(s, 77, h1, 0, "?").u8(kNetDrain).u8(kNetHostEvents).u8(kNetRxConsume);
        save("net_ring", "bad_stream_use", s.data());
    }
}

// ---- hypercalls ----------------------------------------------------------------
template <typename T>
Script& hc_write(Script& s, uint64_t gpa, const T& v) {
    return s.u8(kHcWrite).u32(static_cast<uint32_t>(gpa)).u16(sizeof v).bytes(&v, sizeof v);
}
Script& hc_call(Script& s, uint32_t nr, uint64_t arg) {
    return s.u8(kHcCall).u8(static_cast<uint8_t>(nr)).u64(arg);
}

void hypercall_seeds() {
    const uint64_t page = EMBER_GPA_HC_PAGE;
    const uint64_t tsc_khz_at = EMBER_GPA_BOOT_INFO + offsetof(ember_boot_info, tsc_khz);
    {
        Script s;
        hc_write(s, page, ember_hc_random{0x100000, 64});
        hc_call(s, EMBER_HC_RANDOM, page);
        ember_hc_log log{5, {}};
        std::memcpy(log.msg, "hello", 5);
        hc_write(s, page, log);
        hc_call(s, EMBER_HC_LOG, page);
        // A console record: "hi\n" on fd 1.
        const char rec[] = {3, 0, 1, 0, 'h', 'i', '\n'};
        s.u8(kHcWrite)
            .u32(EMBER_GPA_CONSOLE + EMBER_RING_DATA)
            .u16(sizeof rec)
            .bytes(rec, sizeof rec);
        hc_write(s, EMBER_GPA_CONSOLE, ember_ring{sizeof rec, 0, 0, 0});
        s.u8(kHcConsole);
        hc_write(s, tsc_khz_at, uint64_t{2000000});
        hc_call(s, EMBER_HC_CLOCK, 0);
        s.u8(kHcWantReady).u8(1);
        hc_write(s, page, ember_hc_wait{0, EMBER_WAIT_STDIN, 0});
        hc_call(s, EMBER_HC_WAIT, page);
        hc_write(s, page, ember_hc_exit{3, 0});
        hc_call(s, EMBER_HC_EXIT, page);
        save("hypercall", "valid_session", s.data());
    }
    {
        Script s;
        hc_call(s, EMBER_HC_READY, 0);
        s.u8(kHcWantReady).u8(1);
        hc_call(s, EMBER_HC_READY, 0).u8(kHcStdin);
        hc_write(s, page, ember_hc_wait{1, EMBER_WAIT_NET | EMBER_WAIT_STDIN, 0});
        hc_call(s, EMBER_HC_WAIT, page);
        ember_hc_crash c{};
        c.kind = EMBER_CRASH_EXCEPTION;
        c.vector = 14;
        c.error_code = 2;
        c.syscall_nr = 1;
        hc_write(s, page, c);
        hc_call(s, EMBER_HC_CRASH, page);
        save("hypercall", "valid_crash", s.data());
    }
    {
        Script s;
        hc_call(s, EMBER_HC_COUNT + 5, page);
        hc_call(s, EMBER_HC_RANDOM, ~0ull - 4);
        hc_write(s, page, ember_hc_random{~0ull - 8, 16});
        hc_call(s, EMBER_HC_RANDOM, page);
        hc_write(s, page, ember_hc_random{0x100000, EMBER_RANDOM_MAX + 1});
        hc_call(s, EMBER_HC_RANDOM, page);
        hc_write(s, page, ember_hc_log{~0ull, {}});
        hc_call(s, EMBER_HC_LOG, page);
        hc_write(s, tsc_khz_at, uint64_t{1});
        hc_call(s, EMBER_HC_CLOCK, 0);
        hc_write(s, EMBER_GPA_CONSOLE, ember_ring{1ull << 40, 0, 0, 0});
        s.u8(kHcConsole);
        const char rec[] = {char(0xff), char(0xff), 7, 0};
        s.u8(kHcWrite)
            .u32(EMBER_GPA_CONSOLE + EMBER_RING_DATA)
            .u16(sizeof rec)
            .bytes(rec, sizeof rec);
        hc_write(s, EMBER_GPA_CONSOLE, ember_ring{1ull << 40 | 8, 1ull << 40, 0, 0});
        s.u8(kHcConsole);
        hc_write(s, page, ember_hc_wait{0, 0, 0});
        hc_call(s, EMBER_HC_WAIT, page);
        save("hypercall", "bad_arguments", s.data());
    }
    {
        Script s;
        ember_hc_crash c{};
        c.kind = EMBER_CRASH_KERNEL;
        std::memset(c.message, 0x9b, sizeof c.message);  // no NUL, terminal escapes
        hc_write(s, page, c);
        hc_call(s, EMBER_HC_CRASH, page);
        save("hypercall", "bad_panic_message", s.data());
    }
}

// ---- gateway -------------------------------------------------------------------
std::string exchange(const std::string& request, const std::string& response) {
    Script s;
    s.u16(static_cast<uint16_t>(request.size())).str(request).str(response);
    return s.data();
}

void gateway_seeds() {
    save("gateway", "valid_get_path",
         exchange("GET /hello/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: t\r\n\r\n",
                  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nhi\n"));
    save("gateway", "valid_post_chunked",
         exchange("POST / HTTP/1.1\r\nHost: echo.localhost\r\nTransfer-Encoding: chunked\r\n"
                  "Connection: keep-alive\r\nExpect: 100-continue\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
                  "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                  "2\r\nok\r\n0\r\nTrailer: x\r\n\r\n"));
    save("gateway", "valid_head_http10",
         exchange("HEAD /svc HTTP/1.0\r\nHost: svc.localhost\r\n\r\n",
                  "HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n"));
    save("gateway", "valid_response_until_close",
         exchange(
             "DELETE /svc/item/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
             "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nUpgrade: h2c\r\n\r\nbody until close"));
    save("gateway", "bad_request_line", exchange("GET\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n"));
    save("gateway", "bad_both_lengths",
         exchange("POST /svc/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy"));
    // Regression: Beast throws when asked to write it for the instance.
    save("gateway", "bad_trace_with_body",
         exchange("TRACE /svc/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
                  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    // Beyond --max-response: a body_limit error, never a reservation of it.
    save("gateway", "bad_response_huge_length",
         exchange("GET /svc/ HTTP/1.1\r\nHost: x\r\n\r\n",
                  "HTTP/1.1 200 OK\r\nContent-Length: 802379605485813758\r\n\r\nz"));
    save("gateway", "bad_response_interim",
         exchange("PUT /svc/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz",
                  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: "
                  "5\r\n\r\nhello"));
}

// ---- API JSON --------------------------------------------------------------------
std::string api(uint8_t method, const std::string& name, const std::string& body) {
    Script s;
    s.u8(method).u8(static_cast<uint8_t>(name.size())).str(name).str(body);
    return s.data();
}

void api_seeds() {
    const std::string sha(64, 'a');
    save("api_json", "valid_post",
         api(0, "", R"({"name":"hello","image":")" + sha + R"(","port":8080,"memory_mb":64,
"args":["-v"],"env":["A=1"],"egress":["example.com:443"],"min_instances":1,
"max_instances":4,"concurrency":8,"timeout_ms":2000,"queue_timeout_ms":500})"));
    save("api_json", "valid_put_files",
         api(1, "web",
             R"({"image":")" + sha + R"(","program":"srv","env":{"K":"V"},
"files":[{"path":"/etc//app.conf","image":")" +
                 sha + R"(","mode":420}],
"isolation":"request","spare_instances":2,"status":"ready","generation":3})"));
    save("api_json", "valid_patch",
         api(2, "svc", R"({"max_instances":2,"idle_timeout_ms":0,"queue_size":10})"));
    save("api_json", "bad_fields",
         api(0, "", R"({"name":"Bad_Name","image":"xyz","port":70000,"unknown":true})"));
    save("api_json", "bad_cross_field",
         api(1, "svc", R"({"image":")" + sha + R"(","min_instances":9,"max_instances":2})"));
    save("api_json", "bad_patch_deploy_field", api(2, "svc", R"({"image":")" + sha + R"("})"));
    save("api_json", "bad_number",
         api(0, "", R"({"name":"a","image":")" + sha + R"(","port":1e400})"));
    save("api_json", "bad_utf8", api(1, "sv\xc3", "{\"name\":\"\xff\xfe\"}"));
    save(
        "api_json", "bad_path",
        api(1, "svc",
            R"({"image":")" + sha + R"(","files":[{"path":"/a/../b","image":")" + sha + R"("}]})"));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_seeds <corpus dir>\n");
        return 2;
    }
    g_dir = argv[1];
    mkdir(g_dir.c_str(), 0755);
    elf_seeds();
    cpio_seeds();
    snapshot_seeds();
    net_seeds();
    hypercall_seeds();
    gateway_seeds();
    api_seeds();
    return 0;
}
