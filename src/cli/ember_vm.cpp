// ember-vm: runs one static Linux program in an Ember microVM.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/fd_io.h"
#include "common/units.h"
#include "vmm/exit_reaper.h"
#include "vmm/vmm.h"

namespace {

// Exit statuses beyond the program's own 0-255.
constexpr int kExitUsage = 2;
constexpr int kExitTimeout = 124;
constexpr int kExitVmError = 125;
constexpr int kExitBadInput = 126;
constexpr int kExitKernelPanic = 134;
constexpr int kExitCrashed = 139;
constexpr int kExitCpuLimit = 152;

// Prints "ember-vm: msg" on stderr and returns code, the exit status.
int print_error(int code, const std::string& msg) {
    std::fprintf(stderr, "ember-vm: %s\n", msg.c_str());
    return code;
}

// A failure of the VMM library: 126 when the program, its root filesystem
// or the snapshot is at fault, 125 when the VM or the host failed.
int exit_status_of(ember::Code code) {
    switch (code) {
        case ember::Code::kInvalidArgument:
        case ember::Code::kNotFound:
        case ember::Code::kCorruption:
        case ember::Code::kUnsupported:
            return kExitBadInput;
        default:
            return kExitVmError;
    }
}

bool read_file(const std::string& path, std::vector<uint8_t>* out, std::string* err) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = "cannot read " + path + ": " + std::strerror(errno);
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *err = "cannot read " + path + ": not a regular file";
        ::close(fd);
        return false;
    }
    out->resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < out->size()) {
        ssize_t n = ::read(fd, out->data() + done, out->size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            *err = "cannot read " + path + ": " + (n < 0 ? std::strerror(errno) : "short read");
            ::close(fd);
            return false;
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    return true;
}

int report(bool stats, const ember::RunReport& r) {
    if (stats) {
        std::fprintf(stderr,
                     "ember-vm: stats: create_us=%.1f first_insn_us=%.1f run_us=%.1f total_us=%.1f "
                     "exits=%llu hypercalls=%llu syscalls=%llu fast_syscalls=%llu",
                     r.stats.create_us, r.stats.first_insn_us, r.stats.run_us, r.stats.total_us,
                     static_cast<unsigned long long>(r.stats.exits),
                     static_cast<unsigned long long>(r.stats.hypercalls),
                     static_cast<unsigned long long>(r.stats.syscalls),
                     static_cast<unsigned long long>(r.stats.fast_syscalls));
        if (r.stats.preemptions > 0)
            std::fprintf(stderr, " preemptions=%llu",
                         static_cast<unsigned long long>(r.stats.preemptions));
        if (r.stats.forks > 0 || r.stats.cr3_loads > 0)
            std::fprintf(stderr, " forks=%llu fork_us=%.1f cr3_loads=%llu cr3_us=%.1f",
                         static_cast<unsigned long long>(r.stats.forks), r.stats.fork_us,
                         static_cast<unsigned long long>(r.stats.cr3_loads), r.stats.cr3_us);
        if (r.stats.cow_faults > 0)
            std::fprintf(stderr, " cow_faults=%llu cow_us=%.1f",
                         static_cast<unsigned long long>(r.stats.cow_faults), r.stats.cow_us);
        if (r.stats.volume_ops > 0)
            std::fprintf(stderr, " volume_ops=%llu",
                         static_cast<unsigned long long>(r.stats.volume_ops));
        if (r.stats.udp_sockets_max > 0 || r.stats.dns_queries > 0 || r.stats.egress_denied > 0)
            std::fprintf(stderr,
                         " udp_sockets_max=%llu dgrams_out=%llu dgrams_in=%llu dgrams_dropped=%llu "
                         "dns_queries=%llu egress_denied=%llu",
                         static_cast<unsigned long long>(r.stats.udp_sockets_max),
                         static_cast<unsigned long long>(r.stats.dgrams_out),
                         static_cast<unsigned long long>(r.stats.dgrams_in),
                         static_cast<unsigned long long>(r.stats.dgrams_dropped),
                         static_cast<unsigned long long>(r.stats.dns_queries),
                         static_cast<unsigned long long>(r.stats.egress_denied));
        if (r.stats.kernel_init_us > 0)
            std::fprintf(stderr, " kernel_init_us=%.1f", r.stats.kernel_init_us);
        if (r.stats.snapshot_us > 0) std::fprintf(stderr, " snapshot_us=%.1f", r.stats.snapshot_us);
        std::fprintf(stderr, "\n");
    }
    switch (r.outcome) {
        case ember::Outcome::kExited:
            return r.exit_status;
        case ember::Outcome::kSnapshotted:
            return 0;
        case ember::Outcome::kStopped:
            return print_error(kExitVmError, r.message);
        case ember::Outcome::kCrashed:
            // 128 + the signal Linux would have sent (SIGSEGV: 139, SIGILL:
            // 132, SIGFPE: 136, ...).
            return print_error(r.exit_status > 128 ? r.exit_status : kExitCrashed, r.message);
        case ember::Outcome::kKernelPanic:
            return print_error(kExitKernelPanic, r.message);
        case ember::Outcome::kTimeout:
            return print_error(kExitTimeout, "stopped: " + r.message);
        case ember::Outcome::kCpuLimit:
            return print_error(kExitCpuLimit, "stopped: " + r.message);
        case ember::Outcome::kDeadlock:
            return print_error(kExitVmError, "stopped: " + r.message);
        case ember::Outcome::kVmError:
            return print_error(kExitVmError, "VM failed: " + r.message);
    }
    return kExitVmError;
}

// Fills cfg->net from -p and --allow-egress; returns an error message or "".
std::string parse_net(const std::vector<std::string>& publish,
                      const std::vector<std::string>& egress, ember::NetConfig* net) {
    for (const auto& p : publish) {
        auto m = ember::parse_port_mapping(p);
        if (!m) return m.message();
        net->ports.push_back(*m);
    }
    for (const auto& e : egress) {
        auto r = ember::parse_egress_rule(e);
        if (!r) return r.message();
        net->egress.push_back(*r);
    }
    return "";
}

// --timeout and --cpu-limit into cfg; returns an error message or "".
std::string parse_limits(const std::string& timeout, const std::string& cpu_limit,
                         ember::VmConfig* cfg) {
    if (!timeout.empty()) {
        auto t = ember::parse_duration_ns(timeout);
        if (!t || *t == 0) return "--timeout: not a duration: '" + timeout + "' (e.g. 500ms, 2s)";
        cfg->timeout_ns = *t;
    }
    if (!cpu_limit.empty()) {
        auto t = ember::parse_duration_ns(cpu_limit);
        if (!t || *t == 0) return "--cpu-limit: not a duration: '" + cpu_limit + "' (e.g. 1s)";
        cfg->cpu_limit_ns = *t;
    }
    return "";
}

// --stdin: "" = empty input (-1), "-" = ours, else a file opened here.
std::string open_stdin(const std::string& path, int* fd) {
    *fd = -1;
    if (path == "-") {
        *fd = 0;
    } else if (!path.empty()) {
        *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (*fd < 0) return "--stdin " + path + ": " + std::strerror(errno);
    }
    return "";
}

// --volume HOSTDIR:GUESTPATH[:ro] into cfg->volumes (each host directory
// opened O_PATH here, kept open for the process's life), with --volume-quota
// on the writable ones; returns an error message or "".
std::string parse_volumes(const std::vector<std::string>& specs, const std::string& quota,
                          ember::VmConfig* cfg) {
    uint64_t quota_bytes = 0;
    if (!quota.empty()) {
        auto q = ember::parse_size(quota);
        if (!q || *q == 0) return "--volume-quota: not a size: '" + quota + "' (e.g. 64M, 1G)";
        quota_bytes = *q;
    }
    for (const auto& spec : specs) {
        std::string host = spec, rest;
        const size_t colon = spec.find(':');
        if (colon == std::string::npos)
            return "--volume: expected HOSTDIR:GUESTPATH[:ro], got '" + spec + "'";
        host = spec.substr(0, colon);
        rest = spec.substr(colon + 1);
        ember::VolumeMount m;
        if (rest.size() > 3 && rest.compare(rest.size() - 3, 3, ":ro") == 0) {
            m.readonly = true;
            rest.resize(rest.size() - 3);
        }
        m.guest_path = rest;
        if (!ember::valid_volume_mount_point(m.guest_path))
            return "--volume: '" + rest +
                   "' is not a mount point (absolute, normalised, not under /proc, /sys, /dev, "
                   "/tmp)";
        m.dir_fd = ::open(host.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (m.dir_fd < 0) return "--volume " + host + ": " + std::strerror(errno);
        m.quota_bytes = m.readonly ? 0 : quota_bytes;
        cfg->volumes.push_back(m);
    }
    if (cfg->volumes.size() > EMBER_VOLUMES_MAX)
        return "--volume: at most " + std::to_string(EMBER_VOLUMES_MAX) + " volumes";
    return "";
}

// What the VMM process may still do once the VM is set up (sandbox.h): a
// private network unless ports are published or egress is allowed.
ember::SandboxPolicy sandbox_policy(const ember::NetConfig& net) {
    ember::SandboxPolicy p;
    p.private_network = net.ports.empty() && net.egress.empty();
    p.allow_listen = !net.ports.empty();
    p.allow_outbound = !net.egress.empty();
    return p;
}

// Volumes: the *at() calls beneath their directories, and the caller's own
// user, whose files they are.
void volume_policy(const std::vector<ember::VolumeMount>& volumes, ember::SandboxPolicy* p) {
    p->allow_volumes = !volumes.empty();
    if (!volumes.empty()) p->drop_user = false;
}

// Enters the sandbox after setup; a non-zero return is the exit status.
int enter_sandbox(bool off, bool stats, const ember::SandboxPolicy& policy) {
    // The exit path leaves the VM's teardown to a reaper (exit_reaper.h).
    if (auto st = ember::prepare_exit_reaper(); !st) return print_error(kExitVmError, st.message());
    if (off) {
        if (stats) std::fprintf(stderr, "ember-vm: sandbox: off (--no-sandbox)\n");
        return 0;
    }
    auto r = ember::enter_sandbox(policy);
    if (!r) return print_error(kExitVmError, r.message());
    // This thread runs the vCPU from here on.
    if (auto st = ember::sandbox_thread(ember::ThreadKind::kVm); !st)
        return print_error(kExitVmError, st.message());
    // The I/O thread takes its own at its first wake-up (io_thread.cpp).
    if (stats)
        std::fprintf(stderr, "ember-vm: sandbox: %s%s\n", r->summary().c_str(),
                     ember::process_seccomp_on() ? " thread-filters=on(vm,io)" : "");
    return 0;
}

struct RunOptions {
    std::string mem = "64M";
    std::vector<std::string> files;
    std::string rootfs;
    std::string image;
    std::vector<std::string> env;
    std::string stdin_path;
    std::string timeout;
    std::string cpu_limit;
    bool trace = false;
    bool stats = false;
    bool no_patch = false;
    bool no_sandbox = false;
    std::string snapshot_out;
    bool cont = false;
    std::vector<std::string> publish;
    std::vector<std::string> egress;
    std::vector<std::string> volumes;
    std::string volume_quota;
    std::vector<std::string> command;  // program, then its arguments
};

// --file HOSTPATH:GUESTPATH options into the root filesystem; a non-zero
// return is the exit status.
int add_files(const std::vector<std::string>& files, ember::RootfsBuilder& rootfs) {
    std::string err;
    for (const auto& f : files) {
        const auto colon = f.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == f.size())
            return print_error(kExitUsage, "--file: expected HOSTPATH:GUESTPATH, got '" + f + "'");
        const std::string host = f.substr(0, colon), guest = f.substr(colon + 1);
        std::vector<uint8_t> data;
        if (!read_file(host, &data, &err)) return print_error(kExitBadInput, "--file: " + err);
        struct stat st;
        const uint32_t mode = stat(host.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
        if (auto added = rootfs.add_file(guest, data, mode); !added)
            return print_error(kExitBadInput, "--file: " + added.message());
    }
    return 0;
}

// ember-vm run --image IMG [-- ARGS]: the image's tree, its Entrypoint and
// Cmd (ARGS replace Cmd), Env (--env adds and overrides) and WorkingDir.
int build_from_image(const RunOptions& o, const std::vector<std::string>& args,
                     ember::VmConfig* cfg, std::vector<std::string>* inputs) {
    if (!o.rootfs.empty())
        return print_error(kExitUsage, "--image and --rootfs exclude each other");
    ember::RootfsBuilder rootfs;
    auto ic = rootfs.add_image(o.image);
    if (!ic) return print_error(kExitBadInput, "--image " + o.image + ": " + ic.message());
    if (auto st = rootfs.add_tmp(); !st)
        return print_error(kExitBadInput, "--image " + o.image + ": " + st.message());
    if (int rc = add_files(o.files, rootfs); rc != 0) return rc;
    struct stat st;
    inputs->push_back((stat(o.image.c_str(), &st) == 0 && S_ISDIR(st.st_mode) ? "dir:" : "") +
                      o.image);
    const std::vector<std::string> argv = ember::image_argv(*ic, args);
    if (!ic->user.empty() && ic->user != "root" && ic->user != "0" && o.stats)
        std::fprintf(stderr, "ember-vm: the image's User '%s' is ignored (one user per VM)\n",
                     ic->user.c_str());
    if (auto st = rootfs.finish_in_tree(argv, ember::image_env(*ic, o.env), ic->working_dir, cfg);
        !st)
        return print_error(kExitBadInput, "--image " + o.image + ": " + st.message());
    return 0;
}

// ember-vm run [--rootfs TREE] PROGRAM [-- ARGS]: PROGRAM from the host at
// /bin/<name>; a dynamically linked one brings its interpreter and libraries
// from the host when there is no --rootfs.
int build_from_program(const RunOptions& o, const std::vector<std::string>& rest,
                       ember::VmConfig* cfg, std::vector<std::string>* inputs) {
    const std::string& program = o.command.front();
    std::string err;
    if (!read_file(program, &cfg->program, &err)) return print_error(kExitBadInput, err);
    ember::RootfsBuilder rootfs;
    if (!o.rootfs.empty()) {
        struct stat st;
        if (stat(o.rootfs.c_str(), &st) != 0)
            return print_error(kExitBadInput, "--rootfs " + o.rootfs + ": " + std::strerror(errno));
        ember::Status added;
        inputs->push_back((S_ISDIR(st.st_mode) ? "dir:" : "") + o.rootfs);
        if (S_ISDIR(st.st_mode)) {
            added = rootfs.add_host_tree(o.rootfs);
        } else {
            std::vector<uint8_t> archive;
            if (!read_file(o.rootfs, &archive, &err))
                return print_error(kExitBadInput, "--rootfs " + o.rootfs + ": " + err);
            added = rootfs.add_archive(archive);
        }
        if (!added)
            return print_error(kExitBadInput, "--rootfs " + o.rootfs + ": " + added.message());
    } else {
        // A Debian program brings its packages (python3 its standard
        // library), then, as any dynamic program, its ELF dependencies.
        if (auto st = rootfs.add_host_packages(program); !st)
            return print_error(kExitBadInput, program + ": " + st.message());
        if (auto st = rootfs.add_host_dependencies(cfg->program); !st)
            return print_error(kExitBadInput, program + ": " + st.message());
    }
    if (auto st = rootfs.add_tmp(); !st)
        return print_error(kExitBadInput, "--rootfs: " + st.message());
    if (int rc = add_files(o.files, rootfs); rc != 0) return rc;
    const auto slash = program.find_last_of('/');
    const std::string base = slash == std::string::npos ? program : program.substr(slash + 1);
    inputs->push_back(program);
    for (const auto& d : rootfs.host_inputs()) inputs->push_back(d);
    // argv[0] is the program's path in the guest, /bin/<name> (as
    // /proc/self/exe says), so a program that runs itself again finds it.
    if (auto st = rootfs.finish(std::move(cfg->program), base, "", rest, cfg); !st)
        return print_error(kExitBadInput, st.message());
    cfg->env = o.env;
    return 0;
}

// The key of the built root filesystem in the cache: this ember-vm binary
// (a new build may build differently), then each input by its identity
// (files) or real path (trees, checked file by file on lookup), and what
// else the archive depends on. "" when an input cannot be stat'ed (the
// build reports it).
std::string rootfs_cache_key(const RunOptions& o, const std::vector<std::string>& args) {
    std::string key = "ember-vm run\n" + ember::file_identity("/proc/self/exe") + "\n";
    auto add = [&key](const std::string& what, const std::string& path) {
        struct stat st;
        if (stat(path.c_str(), &st) != 0) return false;
        char real[PATH_MAX];
        const std::string id = S_ISDIR(st.st_mode)
                                   ? (realpath(path.c_str(), real) ? std::string(real) : "")
                                   : ember::file_identity(path);
        key += what + " " + id + "\n";
        return !id.empty();
    };
    bool ok = true;
    if (!o.image.empty()) {
        ok = add("image", o.image);
        // An image's program and argv[0] follow its Cmd, which args replace.
        for (const auto& a : args) key += "arg " + a + "\n";
        for (const auto& e : o.env) key += "env " + e + "\n";
    } else {
        ok = add("program", o.command.front());
        if (!o.rootfs.empty()) ok = ok && add("rootfs", o.rootfs);
    }
    for (const auto& f : o.files) {
        const auto colon = f.find(':');
        if (colon == std::string::npos) return "";
        ok = ok && add("file " + f.substr(colon + 1), f.substr(0, colon));
    }
    return ok ? key : "";
}

// The root filesystem and program from the host cache (rootfs_cache.h), or
// built (build_from_image / build_from_program) and stored there. The
// archive then reaches the VM as a file it maps (cfg->rootfs_fd = *fd).
int build_rootfs(const RunOptions& o, const std::vector<std::string>& args, ember::VmConfig* cfg,
                 ember::Fd* fd, bool* hit) {
    ember::RootfsCache cache(ember::rootfs_cache_dir());
    const std::string key = rootfs_cache_key(o, args);
    if (auto e = key.empty() ? std::nullopt : cache.lookup(key)) {
        // meta: guest path, cwd, program and interpreter (offset, size) in
        // the archive, then (images) argv and env.
        std::vector<std::string> m;
        auto u64 = [&m](size_t i) { return std::strtoull(m[i].c_str(), nullptr, 10); };
        auto read_at = [&e](uint64_t off, uint64_t size, std::vector<uint8_t>* out) {
            out->resize(size);
            return off <= e->size && size <= e->size - off &&
                   ember::pread_all(e->fd.get(), out->data(), size, off);
        };
        if (ember::decode_fields(e->meta, &m) && m.size() >= 7 &&
            read_at(u64(2), u64(3), &cfg->program) && read_at(u64(4), u64(5), &cfg->interpreter)) {
            cfg->guest_path = m[0];
            cfg->cwd = m[1];
            const size_t argc = u64(6);
            if (!o.image.empty() && m.size() >= 7 + argc) {
                cfg->argv.assign(m.begin() + 7, m.begin() + 7 + static_cast<long>(argc));
                cfg->env.assign(m.begin() + 7 + static_cast<long>(argc), m.end());
            } else {
                cfg->argv = {cfg->guest_path};
                cfg->argv.insert(cfg->argv.end(), args.begin(), args.end());
                cfg->env = o.env;
            }
            *fd = std::move(e->fd);
            cfg->rootfs_fd = fd->get();
            if (e->path.rfind("/", 0) == 0) cfg->rootfs_path = e->path;
            *hit = true;
            return 0;
        }
    }
    std::vector<std::string> inputs;
    const int rc = o.image.empty() ? build_from_program(o, args, cfg, &inputs)
                                   : build_from_image(o, args, cfg, &inputs);
    if (rc != 0) return rc;
    for (const auto& f : o.files) inputs.push_back(f.substr(0, f.find(':')));
    const auto prog = ember::find_file_data(cfg->rootfs, cfg->program);
    const auto interp = cfg->interpreter.empty()
                            ? std::optional<std::pair<uint64_t, uint64_t>>(std::make_pair(0, 0))
                            : ember::find_file_data(cfg->rootfs, cfg->interpreter);
    if (!prog || !interp) return 0;  // not found in the tree: keep the copy
    std::vector<std::string> meta = {cfg->guest_path,
                                     cfg->cwd,
                                     std::to_string(prog->first),
                                     std::to_string(prog->second),
                                     std::to_string(interp->first),
                                     std::to_string(interp->second),
                                     std::to_string(cfg->argv.size())};
    meta.insert(meta.end(), cfg->argv.begin(), cfg->argv.end());
    meta.insert(meta.end(), cfg->env.begin(), cfg->env.end());
    auto stored = key.empty() ? ember::rootfs_in_memfd(cfg->rootfs)
                              : cache.store(key, cfg->rootfs, ember::encode_fields(meta), inputs);
    if (!stored) return 0;  // keep the copy
    *fd = std::move(stored->fd);
    cfg->rootfs_fd = fd->get();
    if (stored->path.rfind("/", 0) == 0) cfg->rootfs_path = stored->path;
    cfg->rootfs.clear();
    cfg->rootfs.shrink_to_fit();
    return 0;
}

int do_run(RunOptions& o) {
    if (!o.command.empty() && o.command.front() == "--") o.command.erase(o.command.begin());
    if (o.command.empty() && o.image.empty())
        return print_error(kExitUsage, "run: no program given (see ember-vm run --help)");
    if (!o.command.empty() && o.command.front().size() > 1 && o.command.front()[0] == '-')
        return print_error(
            kExitUsage, "run: unknown option " + o.command.front() + " (see ember-vm run --help)");

    ember::VmConfig cfg;
    // Create the KVM VM and vCPU while the files are read and the root
    // filesystem is built.
    if (access("/dev/kvm", R_OK | W_OK) == 0) ember::prefetch_vms(1);
    const auto mem = ember::parse_size(o.mem);
    if (!mem) return print_error(kExitUsage, "--mem: not a size: '" + o.mem + "' (e.g. 64M, 1G)");
    cfg.mem_size = ember::round_up_guest_memory_size(*mem);
    if (std::string e = parse_limits(o.timeout, o.cpu_limit, &cfg); !e.empty())
        return print_error(kExitUsage, e);
    for (const auto& e : o.env)
        if (e.find('=') == std::string::npos || e.front() == '=')
            return print_error(kExitUsage, "--env: expected K=V, got '" + e + "'");

    ember::Fd rootfs_fd;
    bool cache_hit = false;
    const int64_t t_rootfs = ember::mono_ns();
    std::vector<std::string> rest = o.command;
    if (o.image.empty()) {
        rest.erase(rest.begin());
        if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
    }
    if (int rc = build_rootfs(o, rest, &cfg, &rootfs_fd, &cache_hit); rc != 0) return rc;
    if (o.stats)
        std::fprintf(stderr, "ember-vm: root filesystem: %s in %.1f ms\n",
                     cache_hit ? "from the cache" : "built",
                     static_cast<double>(ember::mono_ns() - t_rootfs) / 1e6);
    cfg.trace_syscalls = o.trace;
    cfg.syscall_patch = !o.no_patch;
    if (std::string e = open_stdin(o.stdin_path, &cfg.stdin_fd); !e.empty())
        return print_error(kExitBadInput, e);

    cfg.snapshot_out = o.snapshot_out;
    cfg.continue_after_snapshot = o.cont;
    if (std::string e = parse_net(o.publish, o.egress, &cfg.net); !e.empty())
        return print_error(kExitUsage, e);
    if (std::string e = parse_volumes(o.volumes, o.volume_quota, &cfg); !e.empty())
        return print_error(kExitUsage, e);

    if (auto st = ember::check_kvm(); !st) return print_error(kExitVmError, st.message());
    ember::SandboxPolicy policy = sandbox_policy(cfg.net);
    volume_policy(cfg.volumes, &policy);
    if (!o.snapshot_out.empty()) {
        // The snapshot is written by name, with the caller's permissions.
        policy.filesystem = policy.drop_user = false;
        policy.allow_file_writes = true;
    }
    auto vm = ember::Vm::boot(std::move(cfg));
    if (!vm) return print_error(exit_status_of(vm.code()), vm.message());
    if (int rc = enter_sandbox(o.no_sandbox, o.stats, policy); rc != 0) return rc;
    ember::Result<ember::RunReport> res = (*vm)->run();
    if (!o.snapshot_out.empty() && res->stats.snapshot_us == 0 &&
        res->outcome != ember::Outcome::kSnapshotted && res->outcome == ember::Outcome::kExited) {
        std::fprintf(stderr,
                     "ember-vm: the program exited before it was READY; no snapshot written\n");
        report(o.stats, *res);
        ember::exit_leaving_teardown(kExitVmError);
    }
    ember::exit_leaving_teardown(report(o.stats, *res));
}

struct RestoreOptions {
    std::vector<std::string> publish;
    std::vector<std::string> egress;
    std::string snapshot;
    std::string stdin_path;
    std::string timeout;
    std::string cpu_limit;
    bool stats = false;
    bool no_sandbox = false;
    std::vector<std::string> volumes;
    std::string volume_quota;
};

int do_restore(RestoreOptions& o) {
    ember::VmConfig cfg;
    if (access("/dev/kvm", R_OK | W_OK) == 0) ember::prefetch_vms(1);
    if (std::string e = parse_net(o.publish, o.egress, &cfg.net); !e.empty())
        return print_error(kExitUsage, e);
    if (std::string e = parse_limits(o.timeout, o.cpu_limit, &cfg); !e.empty())
        return print_error(kExitUsage, e);
    if (std::string e = open_stdin(o.stdin_path, &cfg.stdin_fd); !e.empty())
        return print_error(kExitBadInput, e);
    if (std::string e = parse_volumes(o.volumes, o.volume_quota, &cfg); !e.empty())
        return print_error(kExitUsage, e);
    if (auto st = ember::check_kvm(); !st) return print_error(kExitVmError, st.message());
    auto snap = ember::snapshot::Snapshot::open(o.snapshot);
    if (!snap) return print_error(exit_status_of(snap.code()), snap.message());
    ember::SandboxPolicy policy = sandbox_policy(cfg.net);
    volume_policy(cfg.volumes, &policy);
    auto vm = ember::Vm::restore(*snap, std::move(cfg));
    if (!vm) return print_error(exit_status_of(vm.code()), vm.message());
    if (int rc = enter_sandbox(o.no_sandbox, o.stats, policy); rc != 0) return rc;
    ember::exit_leaving_teardown(report(o.stats, (*vm)->run()));
}

int do_info() {
    auto info = ember::probe_host();
    if (!info) return print_error(kExitVmError, info.message());
    std::printf("host kind:     %s\n", info->kind.c_str());
    std::printf("KVM API:       %d\n", info->api_version);
    std::printf("TSC:           %u kHz\n", info->tsc_khz);
    std::printf("guest XCR0:    %#llx\n", static_cast<unsigned long long>(info->xcr0));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ember-vm: run a Linux program or container image in an Ember microVM"};
    app.set_version_flag("--version", std::string("ember-vm ") + EMBER_VERSION);
    app.require_subcommand(1);

    RunOptions ro;
    auto* run = app.add_subcommand("run",
                                   "Run PROGRAM (or --image IMG) in a new microVM: ember-vm run "
                                   "[options] PROGRAM [-- ARGS...]");
    run->add_option("--mem", ro.mem,
                    "Guest memory (default 64M; K/M/G suffixes; rounded up to 2M)");
    run->add_option("--file", ro.files,
                    "Add a host file to the guest root fs (HOSTPATH:GUESTPATH, repeatable)")
        ->allow_extra_args(false);
    run->add_option("--rootfs", ro.rootfs,
                    "Root filesystem: a host directory, a cpio newc archive or a tar archive "
                    "(e.g. docker export; gzip/zstd/xz allowed)");
    run->add_option("--image", ro.image,
                    "Run a container image instead of PROGRAM: an OCI image layout (directory or "
                    "tar) or a docker save tar; its Entrypoint and Cmd run (ARGS replace Cmd), "
                    "with its Env and WorkingDir");
    run->add_option("--env", ro.env, "Environment variable K=V (repeatable)")
        ->allow_extra_args(false);
    run->add_option("--stdin", ro.stdin_path,
                    "File to use as the guest's stdin ('-' for ours; default: empty)");
    run->add_option("--timeout", ro.timeout, "Wall-clock limit, e.g. 500ms, 2s (exit status 124)");
    run->add_option("--cpu-limit", ro.cpu_limit, "CPU-time limit, e.g. 1s (exit status 152)");
    run->add_flag("--trace-syscalls", ro.trace, "Report each unimplemented syscall once on stderr");
    run->add_flag("--stats", ro.stats,
                  "Print timings, exit/syscall counts and the sandbox's layers on stderr");
    run->add_flag(
        "--no-sandbox", ro.no_sandbox,
        "Do not sandbox the VMM process after setup (for debugging; see docs/security.md)");
    run->add_flag("--no-syscall-patch", ro.no_patch,
                  "Keep every syscall a trap; default: after its first trap, a `mov $nr,%eax; "
                  "syscall` site jumps to the kernel without trapping (docs/architecture.md)");
    run->add_option("--snapshot-out", ro.snapshot_out,
                    "Write a snapshot when the program is first READY (blocks for input, or "
                    "calls syscall(500)), then stop");
    run->add_flag("--continue", ro.cont, "With --snapshot-out: keep running after the snapshot");
    run->add_option(
           "-p,--publish", ro.publish,
           "Publish a guest port: [ADDR:]HOSTPORT:GUESTPORT (default ADDR 127.0.0.1; repeatable)")
        ->allow_extra_args(false);
    run->add_option("--allow-egress", ro.egress,
                    "Let the guest connect() and send UDP to HOST:PORT; a HOST name also "
                    "resolves through the guest's DNS at 169.254.0.53 (repeatable; default: "
                    "deny all)")
        ->allow_extra_args(false);
    run->add_option("--volume", ro.volumes,
                    "Mount a host directory: HOSTDIR:GUESTPATH[:ro] (repeatable, at most 4)")
        ->allow_extra_args(false);
    run->add_option("--volume-quota", ro.volume_quota,
                    "Bytes the writable volumes may hold, e.g. 64M (ENOSPC beyond)");
    run->prefix_command();
    run->footer(
        "The program appears in the guest as /bin/<basename> (its argv[0]); /tmp is writable.\n"
        "Its environment is --env's, plus PATH and HOME=/root unless given. A dynamically\n"
        "linked program brings its interpreter and libraries from this host unless --rootfs\n"
        "gives a tree with them.\n"
        "Exit status: the program's own, or 124 timeout, 125 VM failure, 126 bad input,\n"
        "134 guest kernel panic, 128+N a crash as signal N would end it natively (139 SIGSEGV,\n"
        "132 SIGILL, 136 SIGFPE, 135 SIGBUS), 152 CPU-time limit, 2 usage error.");
    RestoreOptions rs;
    auto* restore = app.add_subcommand(
        "restore", "Resume an instance from a snapshot: ember-vm restore [options] SNAPSHOT");
    restore->add_option("snapshot", rs.snapshot, "Snapshot file written by run --snapshot-out")
        ->required();
    restore->add_option("--stdin", rs.stdin_path,
                        "Input for the instance ('-' for ours; default: empty)");
    restore->add_option("--timeout", rs.timeout,
                        "Wall-clock limit, e.g. 500ms, 2s (exit status 124)");
    restore->add_option("--cpu-limit", rs.cpu_limit, "CPU-time limit (exit status 152)");
    restore->add_flag("--stats", rs.stats,
                      "Print timings, exit/syscall counts and the sandbox's layers on stderr");
    restore->add_flag("--no-sandbox", rs.no_sandbox,
                      "Do not sandbox the VMM process after setup (for debugging)");
    restore
        ->add_option("-p,--publish", rs.publish, "Publish a guest port: [ADDR:]HOSTPORT:GUESTPORT")
        ->allow_extra_args(false);
    restore
        ->add_option("--allow-egress", rs.egress,
                     "Let the guest connect() and send UDP to HOST:PORT (and resolve HOST)")
        ->allow_extra_args(false);
    restore->add_option("--volume", rs.volumes, "Mount a host directory: HOSTDIR:GUESTPATH[:ro]")
        ->allow_extra_args(false);
    restore->add_option("--volume-quota", rs.volume_quota,
                        "Bytes the writable volumes may hold (ENOSPC beyond)");
    auto* info = app.add_subcommand("info", "Show what kind of KVM host this is");

    // "run ... -- ARGS": everything after the first "--" belongs to the
    // program (CLI11 would want a positional for it when no PROGRAM precedes
    // it, as in "run --image IMG -- ARGS").
    std::vector<std::string> after_dashes;
    if (argc > 1 && std::string(argv[1]) == "run") {
        for (int i = 2; i < argc; ++i)
            if (std::string(argv[i]) == "--") {
                after_dashes.assign(argv + i, argv + argc);
                argc = i;
                break;
            }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        return print_error(kExitUsage, std::string(e.what()) + " (see ember-vm --help)");
    }
    if (run->parsed()) {
        ro.command = run->remaining();
        ro.command.insert(ro.command.end(), after_dashes.begin(), after_dashes.end());
        return do_run(ro);
    }
    if (restore->parsed()) return do_restore(rs);
    if (info->parsed()) return do_info();
    return print_error(kExitUsage, "no command given (see ember-vm --help)");
}
