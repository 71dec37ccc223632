// worker_main.cpp - the worker's side of worker_protocol.h. One reader
// thread takes the parent's messages in order; a prepare, an open and every
// instance run on a thread of their own (they block: a boot to READY, a
// snapshot's checksum, a guest's run), so one slow VM never holds up the
// others' messages.
#include "platform/worker_main.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "platform/image_store.h"
#include "platform/runner_pool.h"
#include "platform/vm_guest.h"
#include "platform/worker_protocol.h"
#include "vmm/image_libs.h"
#include "vmm/io_thread.h"
#include "vmm/sandbox.h"
#include "vmm/vmm.h"

namespace ember::platform {
namespace {

using nlohmann::json;
namespace wp = worker;

struct WorkerArgs {
    VmGuestOptions vm;
    size_t vm_pool = 4;
    bool sandbox = true;
    uint32_t uid = 65534, gid = 65534;
};

WorkerArgs parse_args(const std::vector<std::string>& args) {
    WorkerArgs a;
    for (const auto& s : args) {
        const auto eq = s.find('=');
        const std::string k = s.substr(0, eq);
        const uint64_t v =
            eq == std::string::npos ? 0 : std::strtoull(s.c_str() + eq + 1, nullptr, 10);
        if (k == "--vm-pool") a.vm_pool = v;
        if (k == "--warm-vms") a.vm.warm_vms = v;
        if (k == "--prepare-timeout-ms") a.vm.prepare_timeout_ms = v;
        if (k == "--max-image-bytes") a.vm.max_image_bytes = v;
        if (k == "--uid") a.uid = static_cast<uint32_t>(v);
        if (k == "--gid") a.gid = static_cast<uint32_t>(v);
        if (k == "--no-sandbox") a.sandbox = false;
    }
    return a;
}

// Console output a guest may send per second (and in a burst): beyond it,
// output is dropped and counted, so that one guest cannot fill the channel
// every instance of this worker shares. The log of a service keeps 1 MiB
// (log_hub.h); a guest that prints faster than this loses lines either way.
constexpr double kConsoleRate = 4 << 20;
// The stack of the worker's threads (run_worker).
constexpr size_t kThreadStack = 512 << 10;
constexpr double kConsoleBurst = 4 << 20;

class ConsoleBudget {
  public:
    // True when n bytes may be sent now; *dropped gets the bytes dropped
    // since the last success (and is reset). *first_drop is set for the
    // first refusal after a success.
    bool take(size_t n, uint64_t* dropped, bool* first_drop) {
        const auto now = std::chrono::steady_clock::now();
        tokens_ =
            std::min(kConsoleBurst,
                     tokens_ + std::chrono::duration<double>(now - last_).count() * kConsoleRate);
        last_ = now;
        if (tokens_ < static_cast<double>(n)) {
            *first_drop = dropped_ == 0;
            dropped_ += n;
            return false;
        }
        tokens_ -= static_cast<double>(n);
        *dropped = dropped_;
        dropped_ = 0;
        return true;
    }

  private:
    double tokens_ = kConsoleBurst;
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
    uint64_t dropped_ = 0;
};

struct Instance {
    std::mutex mu;
    std::condition_variable cv;
    std::unique_ptr<Guest> guest;  // set once restored; taken back to destroy it
    bool run = false, dropped = false;
};

struct ConnectWait {
    bool done = false;
    int fd = -1;
    int err = 0;
};

class Worker {
  public:
    Worker(ipc::Channel ch, WorkerArgs a)
        : ch_(std::move(ch)),
          args_(std::move(a)),
          runners_(
              16, [] { (void)sandbox_thread(ThreadKind::kVm); },
              /*spawn_from_runners=*/true) {
        runners_.prestart(4);
    }
    int serve();
    Status send(const char* type, const json& body, const std::vector<int>& fds = {}) {
        return ch_.send(type, body.dump(-1, ' ', false, json::error_handler_t::replace), fds);
    }

  private:
    void dispatch(ipc::Message& m);
    ConsoleFn console_for(uint64_t id);
    ConnectFn connect_for(uint64_t prepared_id);
    void on_prepare(ipc::Message& m, const json& j);
    void on_open(ipc::Message& m, const json& j);
    void on_restore(const json& j);
    void on_resume(ipc::Message& m, const json& j);
    bool publish(uint64_t id, Result<std::unique_ptr<Guest>> g,
                 const std::shared_ptr<Instance>& inst, bool final_try);
    void live(uint64_t id, const std::shared_ptr<Instance>& inst);
    void reply_prepared(uint64_t id, Result<std::shared_ptr<const Prepared>> p);
    std::shared_ptr<Instance> instance(uint64_t id) {
        std::lock_guard lock(mu_);
        auto it = insts_.find(id);
        return it == insts_.end() ? nullptr : it->second;
    }

    ipc::Channel ch_;
    WorkerArgs args_;
    // Instance, prepare and open threads ("vm" threads: the seccomp filter
    // of ThreadKind::kVm), kept for the next instance: no thread creation
    // on a cold start. The pool makes its threads itself: the channel
    // thread's filter forbids it. The process ends with _Exit, never
    // destroying it.
    RunnerPool runners_;
    std::mutex mu_;
    std::map<uint64_t, std::shared_ptr<const Prepared>> prepared_;
    std::map<uint64_t, std::vector<int>> pending_fds_;  // prepare-fds, owned
    std::map<uint64_t, std::shared_ptr<Instance>> insts_;
    std::map<uint64_t, std::shared_ptr<ConnectWait>> connects_;
    std::condition_variable connect_cv_;
    uint64_t next_connect_ = 1;
};

ConsoleFn Worker::console_for(uint64_t id) {
    auto budget = std::make_shared<ConsoleBudget>();
    auto mu = std::make_shared<std::mutex>();
    return [this, id, budget, mu](int fd, const char* p, size_t n) {
        std::lock_guard lock(*mu);
        uint64_t dropped = 0;
        bool first_drop = false;
        if (!budget->take(n, &dropped, &first_drop)) {
            // Said once per run of drops, the count when output flows again.
            if (first_drop) {
                const std::string note = "[ember: console output over " +
                                         std::to_string(static_cast<uint64_t>(kConsoleRate) >> 20) +
                                         " MiB/s: dropping it]\n";
                (void)ch_.send(wp::kConsole, wp::encode_console(id, 2, note.data(), note.size()));
            }
            return;
        }
        if (dropped) {
            const std::string note =
                "[ember: " + std::to_string(dropped) + " bytes of console output dropped: over " +
                std::to_string(static_cast<uint64_t>(kConsoleRate) >> 20) + " MiB/s]\n";
            (void)ch_.send(wp::kConsole, wp::encode_console(id, 2, note.data(), note.size()));
        }
        for (size_t off = 0; off < n; off += wp::kConsoleChunk) {
            const size_t len = std::min(wp::kConsoleChunk, n - off);
            (void)ch_.send(wp::kConsole, wp::encode_console(id, fd, p + off, len));
        }
    };
}

// The parent checks the service's egress rules and connects (TCP) or makes
// a UDP socket connected to the destination; the guest's vCPU thread waits
// for the answer (rare: once per connection, or per UDP destination).
ConnectFn Worker::connect_for(uint64_t prepared_id) {
    return [this, prepared_id](int type, const sockaddr_storage& ss, socklen_t) -> int {
        char host[INET6_ADDRSTRLEN] = {};
        uint16_t port = 0;
        if (ss.ss_family == AF_INET) {
            const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        } else {
            return -EAFNOSUPPORT;
        }
        auto w = std::make_shared<ConnectWait>();
        uint64_t req;
        {
            std::lock_guard lock(mu_);
            req = next_connect_++;
            connects_[req] = w;
        }
        const json body = {{"req", req},
                           {"prepared", prepared_id},
                           {"family", ss.ss_family == AF_INET ? 4 : 6},
                           {"addr", host},
                           {"port", port},
                           {"udp", type == SOCK_DGRAM}};
        const bool sent = send(wp::kConnect, body).is_ok();
        std::unique_lock lock(mu_);
        if (sent) connect_cv_.wait_for(lock, std::chrono::seconds(30), [&] { return w->done; });
        connects_.erase(req);
        if (!w->done) return -ETIMEDOUT;
        return w->fd >= 0 ? w->fd : -(w->err ? w->err : ECONNREFUSED);
    };
}

void Worker::reply_prepared(uint64_t id, Result<std::shared_ptr<const Prepared>> p) {
    json r = {{"id", id}, {"ok", p.is_ok()}};
    if (p) {
        {
            std::lock_guard lock(mu_);
            prepared_[id] = *p;
        }
        r["describe"] = (*p)->describe();
        r["memory_bytes"] = (*p)->memory_bytes();
    } else {
        r["code"] = static_cast<int>(p.code());
        r["error"] = p.message();
    }
    (void)send(wp::kPrepared, r);
}

// fds: the snapshot output (read-write, closed after the prepare), the same
// file read-only (kept), the program, then spec.files in order (those that
// did not fit came first in prepare-fds messages).
void Worker::on_prepare(ipc::Message& m, const json& j) {
    const uint64_t id = j.at("id").get<uint64_t>();
    std::vector<int> fds;
    {
        std::lock_guard lock(mu_);
        fds = std::move(pending_fds_[id]);
        pending_fds_.erase(id);
    }
    for (size_t i = 0; i < m.fds.size(); ++i) fds.push_back(m.take_fd(i));
    auto spec = spec_from_json(j.at("spec"), j.at("spec").at("name").get<std::string>());
    const auto quotas = j.value("volume_quotas", std::vector<uint64_t>{});
    auto dns = wp::decode_dns(j.value("dns", json()));
    runners_.run([this, id, fds, quotas, dns, spec = std::move(spec)]() mutable {
        auto prepare = [&]() -> Result<std::shared_ptr<const Prepared>> {
            if (!spec) return spec.status();
            if (fds.size() != 3 + spec->files.size() + spec->volumes.size())
                return Status::internal("prepare: " + std::to_string(fds.size()) + " fds");
            VmPrepareInput in;
            auto program = ImageStore::read_fd(fds[2], spec->image, args_.vm.max_image_bytes);
            if (!program) return Status(program.code(), "program: " + program.message());
            in.program = std::move(*program);
            for (size_t i = 0; i < spec->files.size(); ++i) {
                const auto& f = spec->files[i];
                auto data = ImageStore::read_fd(fds[3 + i], f.image, args_.vm.max_image_bytes);
                if (!data) return Status(data.code(), "file " + f.path + ": " + data.message());
                in.files.push_back(std::move(*data));
            }
            if (!spec->volumes.empty()) {
                // The volumes' fds are the Prepared's from here on.
                std::vector<int> vfds(fds.end() - static_cast<long>(spec->volumes.size()),
                                      fds.end());
                fds.resize(fds.size() - vfds.size());
                auto v = make_volumes(*spec, std::move(vfds), quotas);
                if (!v) return v.status();
                in.volumes = std::move(*v);
            }
            in.snapshot_fd = fds[0];
            in.snapshot_read_fd = fds[1];
            in.connect = connect_for(id);
            in.dns = dns;
            return prepare_vm(*spec, std::move(in), console_for(id), args_.vm);
        };
        auto p = prepare();
        for (int fd : fds) ::close(fd);
        reply_prepared(id, std::move(p));
    });
}

void Worker::on_open(ipc::Message& m, const json& j) {
    const uint64_t id = j.at("id").get<uint64_t>();
    const int fd = m.take_fd(0);
    // Then the spec's volumes' directories, in order.
    std::vector<int> vfds;
    for (size_t i = 1; i < m.fds.size(); ++i) vfds.push_back(m.take_fd(i));
    auto spec = spec_from_json(j.at("spec"), j.at("spec").at("name").get<std::string>());
    const std::string name = j.value("name", std::string("snapshot"));
    const auto quotas = j.value("volume_quotas", std::vector<uint64_t>{});
    auto dns = wp::decode_dns(j.value("dns", json()));
    runners_.run([this, id, fd, vfds, quotas, name, dns, spec = std::move(spec)]() mutable {
        if (!spec || fd < 0) {
            if (fd >= 0) ::close(fd);
            for (int v : vfds) ::close(v);
            reply_prepared(id, spec ? Status::internal("open: no snapshot fd") : spec.status());
            return;
        }
        auto volumes = make_volumes(*spec, std::move(vfds), quotas);
        if (!volumes) {
            ::close(fd);
            reply_prepared(id, volumes.status());
            return;
        }
        reply_prepared(id, open_vm(*spec, fd, name, connect_for(id), dns, args_.vm,
                                   spec->volumes.empty() ? nullptr : std::move(*volumes)));
    });
}

void Worker::on_restore(const json& j) {
    const uint64_t id = j.at("id").get<uint64_t>();
    const uint64_t pid = j.at("prepared").get<uint64_t>();
    std::shared_ptr<const Prepared> p;
    auto inst = std::make_shared<Instance>();
    {
        std::lock_guard lock(mu_);
        if (auto it = prepared_.find(pid); it != prepared_.end()) p = it->second;
        if (p) insts_[id] = inst;
    }
    if (!p) {
        (void)send(wp::kRestored, {{"id", id},
                                   {"ok", false},
                                   {"code", static_cast<int>(Code::kInternal)},
                                   {"error", "the worker has no snapshot " + std::to_string(pid)}});
        return;
    }
    // A kept reset VM is taken here, on the reader thread (no KVM call):
    // the reply goes out without waking another thread first. A restore
    // into a new VM takes longer and runs on the instance's thread.
    if (publish(id, restore_vm(p, console_for(id), /*warm_only=*/true), inst, false)) {
        runners_.run([this, id, inst] { live(id, inst); });
        return;
    }
    runners_.run([this, id, p, inst] {
        if (publish(id, restore_vm(p, console_for(id)), inst, true)) live(id, inst);
    });
}

// As on_restore, from the suspended snapshot in the message's fd: always on
// the instance's thread (the file is read and checked first).
void Worker::on_resume(ipc::Message& m, const json& j) {
    const uint64_t id = j.at("id").get<uint64_t>();
    const uint64_t pid = j.at("prepared").get<uint64_t>();
    const int fd = m.take_fd(0);
    std::shared_ptr<const Prepared> p;
    auto inst = std::make_shared<Instance>();
    {
        std::lock_guard lock(mu_);
        if (auto it = prepared_.find(pid); it != prepared_.end()) p = it->second;
        if (p && fd >= 0) insts_[id] = inst;
    }
    if (!p || fd < 0) {
        if (fd >= 0) ::close(fd);
        (void)send(wp::kRestored, {{"id", id},
                                   {"ok", false},
                                   {"code", static_cast<int>(Code::kInternal)},
                                   {"error", "resume: no snapshot " + std::to_string(pid) +
                                                 " or no suspended snapshot file"}});
        return;
    }
    runners_.run([this, id, p, fd, inst] {
        if (publish(id, resume_vm(p, fd, console_for(id)), inst, true)) live(id, inst);
    });
}

// Keeps a restored instance and replies; false (and no reply when
// !final_try) when the restore failed.
bool Worker::publish(uint64_t id, Result<std::unique_ptr<Guest>> g,
                     const std::shared_ptr<Instance>& inst, bool final_try) {
    if (!g) {
        if (!final_try) return false;
        {
            std::lock_guard lock(mu_);
            insts_.erase(id);
        }
        (void)send(wp::kRestored, {{"id", id},
                                   {"ok", false},
                                   {"code", static_cast<int>(g.code())},
                                   {"error", g.message()}});
        return false;
    }
    const auto [base, size] = (*g)->memory_range();
    const bool reused = (*g)->reused();
    {
        std::lock_guard lock(inst->mu);
        inst->guest = std::move(*g);
    }
    (void)send(wp::kRestored, {{"id", id},
                               {"ok", true},
                               {"reused", reused},
                               {"mem_base", static_cast<uint64_t>(base)},
                               {"mem_size", static_cast<uint64_t>(size)}});
    return true;
}

// The life of a restored instance on its own thread: wait for run (or
// drop), run, report the end, wait for drop, reset or destroy the VM.
void Worker::live(uint64_t id, const std::shared_ptr<Instance>& inst) {
    std::unique_lock lock(inst->mu);
    Guest* guest = inst->guest.get();
    inst->cv.wait(lock, [&] { return inst->run || inst->dropped; });
    if (inst->run) {
        lock.unlock();
        const InstanceEnd e = guest->run();
        (void)send(wp::kEnd, {{"id", id},
                              {"stopped", e.stopped},
                              {"suspended", e.suspended},
                              {"description", e.description}});
        lock.lock();
        inst->cv.wait(lock, [&] { return inst->dropped; });
    }
    std::unique_ptr<Guest> dead = std::move(inst->guest);
    lock.unlock();
    dead.reset();  // resets the VM for reuse, or destroys it
    std::lock_guard l(mu_);
    insts_.erase(id);
}

void Worker::dispatch(ipc::Message& m) {
    if (m.type == wp::kConnected) {
        const json j = json::parse(m.body);
        std::lock_guard lock(mu_);
        auto it = connects_.find(j.at("req").get<uint64_t>());
        if (it == connects_.end()) return;  // timed out: the fd closes with m
        it->second->done = true;
        it->second->err = j.value("error", 0);
        it->second->fd = m.take_fd(0);
        connect_cv_.notify_all();
        return;
    }
    const json j = json::parse(m.body);
    const uint64_t id = j.at("id").get<uint64_t>();
    if (m.type == wp::kPing) {
        // From this thread, which never waits for a guest: a busy or hostile
        // guest does not make its worker look hung.
        (void)send(wp::kPong, {{"id", id}});
    } else if (m.type == wp::kPost || m.type == wp::kAdopt) {
        const int fd = m.take_fd(0);
        const auto port = j.at("port").get<uint16_t>();
        auto inst = instance(id);
        if (!inst) {
            if (fd >= 0) ::close(fd);
            return;
        }
        std::lock_guard lock(inst->mu);
        if (fd < 0) return;
        if (!inst->guest)
            ::close(fd);
        else if (m.type == wp::kAdopt && !inst->run)
            inst->guest->adopt(fd, port);
        else
            inst->guest->post(fd, port);
    } else if (m.type == wp::kRun || m.type == wp::kDrop) {
        if (auto inst = instance(id)) {
            std::lock_guard lock(inst->mu);
            (m.type == wp::kRun ? inst->run : inst->dropped) = true;
            inst->cv.notify_all();
        }
    } else if (m.type == wp::kStop) {
        if (auto inst = instance(id)) {
            std::lock_guard lock(inst->mu);
            if (inst->guest) inst->guest->stop();
        }
    } else if (m.type == wp::kRestore) {
        on_restore(j);
    } else if (m.type == wp::kSuspend) {
        const int fd = m.take_fd(0);
        auto inst = instance(id);
        if (fd < 0) return;
        if (!inst) {
            ::close(fd);
            return;
        }
        std::lock_guard lock(inst->mu);
        if (inst->guest)
            suspend_vm(*inst->guest, fd);
        else
            ::close(fd);
    } else if (m.type == wp::kResume) {
        on_resume(m, j);
    } else if (m.type == wp::kPrepareFds) {
        std::lock_guard lock(mu_);
        auto& v = pending_fds_[id];
        for (size_t i = 0; i < m.fds.size(); ++i) v.push_back(m.take_fd(i));
    } else if (m.type == wp::kPrepare) {
        on_prepare(m, j);
    } else if (m.type == wp::kOpen) {
        on_open(m, j);
    } else if (m.type == wp::kRelease) {
        std::lock_guard lock(mu_);
        prepared_.erase(id);
    }
}

int Worker::serve() {
    for (;;) {
        auto m = ch_.recv();
        if (!m) {
            if (m.code() == Code::kCorruption) continue;
            // The parent is gone (or stopping): the VMs go with this process.
            std::_Exit(0);
        }
        try {
            dispatch(*m);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ember worker: bad %s message: %s\n", m->type.c_str(), e.what());
        }
    }
}

}  // namespace

int run_worker(const ChildRole& role) {
    WorkerArgs args = parse_args(role.args);
    // Every thread of this process (the I/O thread, the pools' threads: one
    // per running instance, its vCPU) gets a stack of kThreadStack instead
    // of RLIMIT_STACK's 8 MiB: each 8 MiB stack took a page-table page of
    // its own, while the smaller ones share them (docs/benchmarks.md,
    // "Density"). What a vCPU thread uses is a few pages.
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        if (pthread_attr_setstacksize(&attr, kThreadStack) == 0)
            (void)pthread_setattr_default_np(&attr);
        pthread_attr_destroy(&attr);
    }
    ipc::Channel ch(role.channel_fd);
    auto fail = [&ch](const std::string& msg) {
        (void)ch.send(wp::kReady, json{{"error", msg}}.dump());
        return 1;
    };
    // /dev/kvm is opened now, while names still resolve.
    if (auto st = check_kvm(); !st) return fail("KVM: " + st.message());
    // Resetting VMs for reuse reads pagemap; /proc is gone once sandboxed.
    if (auto st = GuestMemory::keep_pagemap_open(); !st) return fail(st.message());
    // The I/O thread exists before any thread filter: it gets its own at its
    // first wake-up, not the filter of the thread that would start it.
    (void)IoThread::instance();
    // VMs are made on a thread with a file table of its own, so that KVM
    // makes no debugfs files for them (~60 KiB per VM; vm_pool.cpp). Without
    // it (an older kernel) they are made as before.
    if (auto st = create_vms_without_debugfs(); !st)
        std::fprintf(stderr, "ember worker: %s; VMs get KVM's debugfs files\n",
                     st.message().c_str());
    // Container images are unpacked here (prepare): libarchive is loaded
    // with dlopen, which finds nothing once the root is empty. Without it
    // only a deploy of an image fails, and says why.
    (void)image_libs();
    // The guests' DNS answers are built with ldns, also loaded with dlopen.
    // Without it their queries get no resolver (and the first says why).
    (void)DnsServer::preload();
    std::string summary = "off (--no-sandbox)";
    if (args.sandbox) {
        SandboxPolicy policy;
        policy.uid = args.uid;
        policy.gid = args.gid;
        // Streams of every instance of this worker are open here.
        rlimit rl{};
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            policy.max_open_files = rl.rlim_cur;
        // It writes nothing but snapshots: at most the largest guest memory
        // and its state.
        policy.max_file_size = (uint64_t{kMaxMemoryMb} << 20) + (64 << 20);
        // Volumes: the *at() calls beneath the directories emberd passes
        // (volume_host.h); their size is below max_file_size.
        policy.allow_volumes = true;
        auto r = enter_sandbox(policy);
        if (!r) return fail("sandbox: " + r.message());
        // The PID namespace is ChildProcess::spawn's: the worker is its init.
        summary = std::string(getpid() == 1 ? "pidns=on(pid 1) " : "pidns=off ") + r->summary();
        if (process_seccomp_on()) summary += " thread-filters=on(vm,io,channel)";
    }
    keep_vms_ready(args.vm_pool);
    // Never destroyed: instance threads may still run when serve() ends the
    // process.
    auto* w = new Worker(std::move(ch), args);
    // This thread only reads and answers the channel from here on: every
    // thread it needs exists or is made by the pools.
    if (auto st = sandbox_thread(ThreadKind::kChannel); !st) return fail(st.message());
    if (!w->send(wp::kReady, {{"sandbox", summary}})) std::_Exit(1);
    return w->serve();
}

}  // namespace ember::platform
