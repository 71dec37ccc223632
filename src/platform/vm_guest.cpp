#include "platform/vm_guest.h"

#include <fcntl.h>
#include <unistd.h>

#include <mutex>
#include <optional>
#include <vector>

#include "platform/warm_cap.h"
#include "vmm/image.h"
#include "vmm/vmm.h"

namespace ember::platform {

namespace {

// The console of a VM that serves one instance after another: forwards to
// the current instance's sink.
class ConsoleSlot {
  public:
    void set(ConsoleFn fn) {
        std::lock_guard lock(mu_);
        fn_ = std::move(fn);
    }
    void write(int fd, const char* p, size_t n) {
        std::lock_guard lock(mu_);
        if (fn_) fn_(fd, p, n);
    }

  private:
    std::mutex mu_;
    ConsoleFn fn_;
};

struct WarmVm {
    std::unique_ptr<Vm> vm;
    std::shared_ptr<ConsoleSlot> console;
};

VmConfig instance_config(const NetConfig& net, const std::shared_ptr<ConsoleSlot>& slot,
                         const std::shared_ptr<VmVolumes>& volumes) {
    VmConfig cfg;
    cfg.net = net;
    if (volumes) cfg.volumes = volumes->mounts;
    cfg.reusable = true;
    cfg.console = [slot](int fd, const char* p, size_t n) { slot->write(fd, p, n); };
    cfg.log = [slot](const std::string& line) {
        const std::string l = "[guest kernel] " + line + "\n";
        slot->write(2, l.data(), l.size());
    };
    return cfg;
}

class VmPrepared : public Prepared {
  public:
    VmPrepared(std::shared_ptr<const snapshot::Snapshot> snap, NetConfig net, size_t min_warm,
               std::shared_ptr<VmVolumes> volumes)
        : snap_(std::move(snap)),
          net_(std::move(net)),
          volumes_(std::move(volumes)),
          cap_(min_warm) {}
    std::string describe() const override {
        return "snapshot of " + std::to_string(snap_->pages_present()) + " pages";
    }
    uint64_t memory_bytes() const override { return snap_->ram_size(); }
    const std::shared_ptr<const snapshot::Snapshot>& snap() const { return snap_; }
    const NetConfig& net() const { return net_; }
    const std::shared_ptr<VmVolumes>& volumes() const { return volumes_; }

    // A VM reset to this snapshot, if one is kept.
    std::optional<WarmVm> take_warm() const {
        std::lock_guard lock(mu_);
        if (warm_.empty()) return std::nullopt;
        WarmVm w = std::move(warm_.back());
        warm_.pop_back();
        return w;
    }
    // A VM of this snapshot went into service / came out of it (warm_cap.h).
    void note_taken() const {
        std::lock_guard lock(mu_);
        cap_.taken(WarmCap::Clock::now());
    }
    void note_returned() const {
        std::lock_guard lock(mu_);
        cap_.returned(WarmCap::Clock::now());
    }
    // Keeps a VM that was reset; false (and the caller drops it) when the
    // load does not need it. VMs kept beyond a cap that fell are dropped
    // here too, on this (off the request path) thread.
    bool keep_warm(WarmVm& w) const {
        std::vector<WarmVm> extra;
        bool kept = false;
        {
            std::lock_guard lock(mu_);
            const size_t cap = cap_.cap(WarmCap::Clock::now());
            while (warm_.size() > cap) {
                extra.push_back(std::move(warm_.back()));
                warm_.pop_back();
            }
            if (warm_.size() < cap) {
                warm_.push_back(std::move(w));
                kept = true;
            }
        }
        return kept;  // extra's VMs are destroyed here, outside the lock
    }

  private:
    std::shared_ptr<const snapshot::Snapshot> snap_;
    NetConfig net_;
    std::shared_ptr<VmVolumes> volumes_;
    mutable std::mutex mu_;
    mutable WarmCap cap_;
    mutable std::vector<WarmVm> warm_;
};

class VmGuest : public Guest {
  public:
    VmGuest(WarmVm w, std::shared_ptr<const VmPrepared> prepared, bool reused)
        : w_(std::move(w)), prepared_(std::move(prepared)), reused_(reused) {}
    bool reused() const override { return reused_; }
    // Runs after the manager has taken the instance out of service: resets
    // the VM (which also closes the connections it still held) and keeps it
    // for the next instance, or destroys it. The VM of an instance that was
    // suspended is always destroyed: a suspended instance costs its file on
    // disk, no VM, vCPU or guest memory (its resume restores into a VM from
    // the pool, or a kept one of another instance).
    ~VmGuest() override {
        prepared_->note_returned();
        if (reusable_ && !suspended_ &&
            w_.vm->reset(instance_config(prepared_->net(), w_.console, prepared_->volumes()))
                .is_ok()) {
            w_.console->set(nullptr);
            if (prepared_->keep_warm(w_)) return;
        }
        w_.vm.reset();
    }
    void adopt(int fd, uint16_t port) override {
        if (auto st = w_.vm->adopt_connection(fd, port); !st) ::close(fd);
    }
    // post() and stop() may race with the end of run() and the reset that
    // follows it; after run() the VM takes nothing more.
    void post(int fd, uint16_t port) override {
        std::lock_guard lock(mu_);
        if (ended_)
            ::close(fd);
        else
            w_.vm->post_connection(fd, port);
    }
    void stop() override {
        std::lock_guard lock(mu_);
        if (!ended_) w_.vm->stop();
    }
    // Takes fd; it stays open until run() has returned.
    void suspend_into(int fd) {
        std::lock_guard lock(mu_);
        if (ended_ || suspend_fd_ >= 0) {
            ::close(fd);
            return;
        }
        suspend_fd_ = fd;
        w_.vm->suspend(fd);
    }
    Vm& vm() { return *w_.vm; }
    std::pair<uintptr_t, size_t> memory_range() const override {
        const auto [base, size] = w_.vm->guest_memory_range();
        return {reinterpret_cast<uintptr_t>(base), size};
    }
    InstanceEnd run() override {
        const RunReport r = w_.vm->run();
        {
            std::lock_guard lock(mu_);
            ended_ = true;
            if (suspend_fd_ >= 0) ::close(suspend_fd_);
            suspend_fd_ = -1;
        }
        InstanceEnd e;
        e.stopped = r.outcome == Outcome::kStopped || r.outcome == Outcome::kSnapshotted;
        e.suspended = r.outcome == Outcome::kSnapshotted;
        suspended_ = e.suspended;
        if (e.suspended)
            e.description = "suspended: " + std::to_string(r.stats.suspend_pages) + " pages, " +
                            std::to_string(r.stats.suspend_bytes) + " bytes written";
        else if (r.outcome == Outcome::kExited)
            e.description = "exited with status " + std::to_string(r.exit_status);
        else
            e.description =
                std::string(outcome_name(r.outcome)) + (r.message.empty() ? "" : ": " + r.message);
        // Only VMs that ended cleanly are reused.
        reusable_ = r.outcome == Outcome::kStopped || r.outcome == Outcome::kExited ||
                    r.outcome == Outcome::kSnapshotted;
        return e;
    }

  private:
    WarmVm w_;
    std::shared_ptr<const VmPrepared> prepared_;
    bool reused_;
    bool reusable_ = false;
    bool suspended_ = false;
    std::mutex mu_;
    bool ended_ = false;
    int suspend_fd_ = -1;
};

Result<NetConfig> net_config(const ServiceSpec& spec) {
    NetConfig net;
    for (const auto& e : spec.egress) {
        auto r = parse_egress_rule(e);
        if (!r) return r.status();
        net.egress.push_back(*r);
    }
    return net;
}

// The guest listens on these ports: "8080, 9090" or "none".
std::string listener_ports(const snapshot::Snapshot& s) {
    std::string out;
    for (const auto& [id, port] : s.vmm().listeners)
        out += (out.empty() ? "" : ", ") + std::to_string(port);
    return out.empty() ? "none" : out;
}

Status check_listens(const snapshot::Snapshot& s, uint16_t port) {
    for (const auto& [id, p] : s.vmm().listeners)
        if (p == port) return Status::ok();
    if (s.vmm().listeners.empty())
        return Status::invalid_argument("the program became idle without listening on port " +
                                        std::to_string(port) +
                                        " (a service must accept connections)");
    return Status::invalid_argument("the program listens on port(s) " + listener_ports(s) +
                                    ", not on port " + std::to_string(port) +
                                    " (set the service's port)");
}

// Keeps the last `cap` bytes of console output, for error messages.
class Tail {
  public:
    explicit Tail(size_t cap) : cap_(cap) {}
    void add(const char* p, size_t n) {
        std::lock_guard lock(mu_);
        buf_.append(p, n);
        if (buf_.size() > cap_) buf_.erase(0, buf_.size() - cap_);
    }
    std::string text() {
        std::lock_guard lock(mu_);
        return buf_;
    }

  private:
    std::mutex mu_;
    size_t cap_;
    std::string buf_;
};

}  // namespace

namespace {

// Boots to READY and snapshots into in.snapshot_fd.
Result<std::shared_ptr<const Prepared>> prepare_impl(const ServiceSpec& spec, VmPrepareInput in,
                                                     const ConsoleFn& console,
                                                     const VmGuestOptions& opts) {
    if (in.snapshot_fd < 0) return Status::internal("prepare: no snapshot file");
    auto net = net_config(spec);
    if (!net) return net.status();
    net->connect_out = in.connect;
    net->dns = in.dns;
    if (in.files.size() != spec.files.size())
        return Status::internal("prepare: " + std::to_string(in.files.size()) + " files for " +
                                std::to_string(spec.files.size()) + " entries");
    VmConfig cfg;
    RootfsBuilder rootfs;
    std::optional<ImageConfig> image;
    if (spec.image_type == ImageType::kContainer) {
        auto ic = rootfs.add_image_archive(in.program);
        if (!ic) return Status(ic.code(), "the container image: " + ic.message());
        image = std::move(*ic);
    }
    if (auto st = rootfs.add_tmp(); !st)
        return Status(st.code(), "cannot create /tmp in the root filesystem: " + st.message());
    for (size_t i = 0; i < spec.files.size(); ++i) {
        const auto& f = spec.files[i];
        if (auto st = rootfs.add_file(f.path, in.files[i], f.mode); !st)
            return Status(st.code(),
                          "file " + f.path + ": cannot be placed in the root filesystem");
    }
    if (spec.image_type == ImageType::kContainer) {
        // As `docker run IMAGE ARGS` would: args replace Cmd, env adds to Env.
        const auto argv = image_argv(*image, spec.args);
        if (argv.empty())
            return Status::invalid_argument("the container image has no Entrypoint or Cmd");
        const auto env = image_env(*image, spec.env);
        if (auto st = rootfs.finish_in_tree(argv, env, image->working_dir, &cfg); !st)
            return Status(st.code(), "the container image: " + st.message());
    } else {
        if (auto st = rootfs.finish(std::move(in.program), spec.program, "", spec.args, &cfg); !st)
            return st;
        cfg.env = spec.env;
    }
    cfg.mem_size = round_up_guest_memory_size(uint64_t{spec.memory_mb} << 20);
    cfg.timeout_ns = opts.prepare_timeout_ms * 1000000ull;
    cfg.snapshot_out_fd = in.snapshot_fd;
    cfg.net = *net;
    if (in.volumes) cfg.volumes = in.volumes->mounts;
    auto tail = std::make_shared<Tail>(4096);
    cfg.console = [tail, console](int fd, const char* p, size_t n) {
        tail->add(p, n);
        if (console) console(fd, p, n);
    };
    cfg.log = [tail, console](const std::string& line) {
        const std::string l = "[guest kernel] " + line + "\n";
        tail->add(l.data(), l.size());
        if (console) console(2, l.data(), l.size());
    };
    auto res = run_vm(std::move(cfg));
    if (!res) return Status(res.code(), "cannot start the program: " + res.message());
    auto with_output = [&](const std::string& msg) {
        const std::string out = tail->text();
        return Status::aborted(
            msg + (out.empty() ? "; it printed nothing" : "; its output ends with:\n" + out));
    };
    switch (res->outcome) {
        case Outcome::kSnapshotted:
            break;
        case Outcome::kExited:
            return with_output("the program exited with status " +
                               std::to_string(res->exit_status) + " before it was ready to serve");
        case Outcome::kTimeout:
            return with_output("the program did not become ready (listening, idle) within " +
                               std::to_string(opts.prepare_timeout_ms) + " ms");
        default:
            return with_output(std::string("the program failed before it was ready to serve: ") +
                               outcome_name(res->outcome) +
                               (res->message.empty() ? "" : ": " + res->message));
    }
    auto snap = snapshot::Snapshot::open_fd(
        ::fcntl(in.snapshot_read_fd >= 0 ? in.snapshot_read_fd : in.snapshot_fd, F_DUPFD_CLOEXEC,
                0),
        "of " + spec.name);
    if (!snap)
        return Status::internal("the snapshot just written cannot be opened: " + snap.message());
    if (auto st = check_listens(**snap, spec.port); !st) return with_output(st.message());
    return std::shared_ptr<const Prepared>(
        std::make_shared<VmPrepared>(*snap, *net, opts.warm_vms, in.volumes));
}

}  // namespace

VmVolumes::~VmVolumes() {
    for (const auto& m : mounts) ::close(m.dir_fd);
}

Result<std::shared_ptr<VmVolumes>> make_volumes(const ServiceSpec& spec, std::vector<int> fds,
                                                const std::vector<uint64_t>& quotas) {
    auto v = std::make_shared<VmVolumes>();
    for (size_t i = 0; i < fds.size(); ++i) {
        VolumeMount m;
        m.dir_fd = fds[i];
        if (i < spec.volumes.size()) {
            m.guest_path = spec.volumes[i].path;
            m.readonly = spec.volumes[i].readonly || spec.isolation == Isolation::kRequest;
        }
        m.quota_bytes = i < quotas.size() ? quotas[i] : 0;
        v->mounts.push_back(std::move(m));  // owned from here, even when refused below
    }
    if (fds.size() != spec.volumes.size() || quotas.size() != spec.volumes.size())
        return Status::internal("volumes: " + std::to_string(fds.size()) + " fds for " +
                                std::to_string(spec.volumes.size()) + " volumes");
    return v;
}

Result<std::shared_ptr<const Prepared>> prepare_vm(const ServiceSpec& spec, VmPrepareInput in,
                                                   const ConsoleFn& console,
                                                   const VmGuestOptions& opts) {
    return prepare_impl(spec, std::move(in), console, opts);
}

Result<std::shared_ptr<const Prepared>> open_vm(const ServiceSpec& spec, int snapshot_fd,
                                                const std::string& name, ConnectFn connect,
                                                std::shared_ptr<const DnsServer::Table> dns,
                                                const VmGuestOptions& opts,
                                                std::shared_ptr<VmVolumes> volumes) {
    auto net = net_config(spec);
    if (!net) {
        ::close(snapshot_fd);
        return net.status();
    }
    net->connect_out = std::move(connect);
    net->dns = std::move(dns);
    auto snap = snapshot::Snapshot::open_fd(snapshot_fd, name);
    if (!snap) return snap.status();
    if (auto st = check_listens(**snap, spec.port); !st) return st;
    return std::shared_ptr<const Prepared>(
        std::make_shared<VmPrepared>(*snap, *net, opts.warm_vms, std::move(volumes)));
}

Result<std::unique_ptr<Guest>> restore_vm(const std::shared_ptr<const Prepared>& p,
                                          const ConsoleFn& console, bool warm_only) {
    // Every Prepared made here is a VmPrepared.
    auto vp = std::static_pointer_cast<const VmPrepared>(p);
    if (auto w = vp->take_warm()) {
        w->console->set(console);
        vp->note_taken();
        return std::unique_ptr<Guest>(std::make_unique<VmGuest>(std::move(*w), vp, true));
    }
    if (warm_only) return Status::unavailable("no reset VM kept for this snapshot");
    WarmVm w;
    w.console = std::make_shared<ConsoleSlot>();
    w.console->set(console);
    auto vm = Vm::restore(vp->snap(), instance_config(vp->net(), w.console, vp->volumes()));
    if (!vm) return vm.status();
    w.vm = std::move(*vm);
    vp->note_taken();
    return std::unique_ptr<Guest>(std::make_unique<VmGuest>(std::move(w), vp, false));
}

Result<std::unique_ptr<Guest>> resume_vm(const std::shared_ptr<const Prepared>& p, int fd,
                                         const ConsoleFn& console) {
    auto vp = std::static_pointer_cast<const VmPrepared>(p);
    auto s = snapshot::Suspended::open_fd(fd, "of this instance",
                                          snapshot::BaseId::of(vp->snap()->header()));
    if (!s) return s.status();
    auto g = restore_vm(p, console);
    if (!g) return g;
    // On failure the guest goes without having run: its VM is not reused.
    if (auto st = static_cast<VmGuest&>(**g).vm().resume_from(**s); !st)
        return Status(st.code(), "resuming the suspended instance: " + st.message());
    return g;
}

void suspend_vm(Guest& g, int fd) { static_cast<VmGuest&>(g).suspend_into(fd); }

}  // namespace ember::platform
