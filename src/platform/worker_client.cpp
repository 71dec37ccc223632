// worker_client.cpp - emberd's side of worker_protocol.h: one WorkerProcess
// per running worker (its reader thread routes replies, console output,
// instance ends and connect requests), WorkerPrepared and WorkerGuest as the
// GuestFactory's objects.
#include "platform/worker_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "platform/child_process.h"
#include "platform/log_hub.h"
#include "platform/worker_protocol.h"
#include "vmm/stream_host.h"

namespace ember::platform {

using nlohmann::json;
namespace wp = worker;

namespace {

// A reply (or an instance's end) someone waits for.
struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    json body;                   // the worker's message
    std::string error;           // or why there is none (the worker died)
    std::function<void()> then;  // called once done, outside mu (then_call)
};

void fulfil(Waiter& w, json body, std::string error) {
    std::function<void()> then;
    {
        std::lock_guard lock(w.mu);
        if (w.done) return;
        w.done = true;
        w.body = std::move(body);
        w.error = std::move(error);
        w.cv.notify_all();
        then = std::move(w.then);
    }
    if (then) then();
}

// Calls f once w is done: now, on this thread, when it is already, else on
// the thread that fulfils it (the worker's reader, or its death).
void then_call(Waiter& w, std::function<void()> f) {
    {
        std::lock_guard lock(w.mu);
        if (!w.done) {
            w.then = std::move(f);
            return;
        }
    }
    f();
}

// The worker's status code, checked: it is not trusted.
Code code_from(const json& j) {
    const int c = j.value("code", static_cast<int>(Code::kInternal));
    return c > 0 && c <= static_cast<int>(Code::kInternal) ? static_cast<Code>(c) : Code::kInternal;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

// One worker process, from its start to its death.
class WorkerProcess {
  public:
    static Result<std::shared_ptr<WorkerProcess>> start(const WorkerOptions& o, size_t slot);
    ~WorkerProcess();

    Status send(const char* type, const json& body, const std::vector<int>& fds = {}) {
        return proc_->channel().send(type, dump(body), fds);
    }
    // Sends a request and waits for the reply with the same id.
    Result<json> call(uint64_t id, const char* type, const json& body, const std::vector<int>& fds,
                      std::chrono::milliseconds timeout);
    // Where instance id's end will be reported.
    std::shared_ptr<Waiter> watch_end(uint64_t id);
    void add_sink(uint64_t id, ConsoleFn fn);
    void drop_sink(uint64_t id) {
        std::lock_guard lock(mu_);
        sinks_.erase(id);
    }
    void set_egress(uint64_t prepared, std::vector<sockaddr_storage> allowed);
    // Forgets everything kept for id.
    void forget(uint64_t id);
    bool dead() const {
        std::lock_guard lock(mu_);
        return dead_;
    }
    std::string death() const {
        std::lock_guard lock(mu_);
        return death_;
    }
    int pid() const { return proc_->pid(); }
    // Heartbeat: a ping that never waits (the answer comes to the reader
    // thread), and the time since the last answer (or the start).
    void ping() {
        const std::string body = dump(json{{"id", ++ping_seq_}});
        // Another thread sending at this instant: try again shortly (but
        // never wait on a send that may be stuck on a full channel).
        for (int i = 0; i < 20; ++i) {
            if (proc_->channel().try_send(wp::kPing, body)) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    uint64_t silent_ms() const {
        return static_cast<uint64_t>(mono_ns() - last_pong_ns_.load()) / 1000000;
    }
    // Kills a worker that stopped answering: it then ends as a dead one,
    // with why as the reason its instances give.
    void kill_hung(const std::string& why);
    const std::string& summary() const { return summary_; }
    const std::string& cgroup_name() const { return cgroup_name_; }
    size_t slot() const { return slot_; }
    // The VMs placed here (instances and prepares; WorkerGuestFactory::place).
    // reserve_vm is called only under the factory's placement lock.
    bool reserve_vm(size_t max) {
        if (vms_.load() >= max) return false;
        ++vms_;
        return true;
    }
    void release_vm() {
        if (--vms_ == 0) empty_since_ns_ = mono_ns();
    }
    size_t vms() const { return vms_.load(); }
    // How long it has held no VM (0 while it holds some).
    uint64_t empty_ms() const {
        return vms_.load() ? 0
                           : static_cast<uint64_t>(mono_ns() - empty_since_ns_.load()) / 1000000;
    }

  private:
    WorkerProcess() = default;
    void read_loop();
    void dispatch(ipc::Message& m);
    void on_connect(const json& j);
    void on_death(const std::string& why);

    // Declared first: removed after the process is gone.
    std::unique_ptr<Cgroup> cgroup_;
    std::unique_ptr<ChildProcess> proc_;
    size_t slot_ = 0;
    std::string summary_;
    std::string cgroup_name_;  // "" without cgroups
    std::thread reader_;
    std::atomic<bool> stopping_{false};
    std::atomic<int64_t> last_pong_ns_{0};
    std::atomic<size_t> vms_{0};
    std::atomic<int64_t> empty_since_ns_{mono_ns()};
    uint64_t ping_seq_ = 0;  // the heartbeat thread's
    mutable std::mutex mu_;
    bool dead_ = false;
    std::string death_;
    std::string hung_;  // why it was killed as hung, or ""

    std::map<uint64_t, std::shared_ptr<Waiter>> calls_, ends_;
    std::map<uint64_t, std::shared_ptr<ConsoleFn>> sinks_;
    std::map<uint64_t, std::vector<sockaddr_storage>> egress_;
};

Result<std::shared_ptr<WorkerProcess>> WorkerProcess::start(const WorkerOptions& o, size_t slot) {
    ChildSpec spec;
    spec.role = "worker";
    spec.args = {"--vm-pool=" + std::to_string(o.vm_pool),
                 "--warm-vms=" + std::to_string(o.vm.warm_vms),
                 "--prepare-timeout-ms=" + std::to_string(o.vm.prepare_timeout_ms),
                 "--max-image-bytes=" + std::to_string(o.vm.max_image_bytes),
                 "--uid=" + std::to_string(o.uid),
                 "--gid=" + std::to_string(o.gid)};
    if (!o.sandbox) spec.args.push_back("--no-sandbox");
    auto child = ChildProcess::spawn(spec);
    if (!child) return Status(child.code(), "starting a VM worker: " + child.message());
    auto w = std::shared_ptr<WorkerProcess>(new WorkerProcess());
    w->proc_ = std::move(*child);
    w->slot_ = slot;
    if (o.cgroups && o.cgroups->on()) {
        // Unique per run and per worker: a leftover of another emberd is never reused.
        static std::atomic<uint64_t> next{0};
        const std::string name =
            "worker-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
        auto cg = o.cgroups->create(name, o.cgroup_limits);
        if (!cg) return Status(cg.code(), "VM worker cgroup: " + cg.message());
        if (auto st = (*cg)->add(w->proc_->pid()); !st)
            return Status(st.code(), "VM worker cgroup: " + st.message());
        w->cgroup_ = std::move(*cg);
        w->cgroup_name_ = name;
    }
    // The first message says whether it could open KVM and sandbox itself.
    pollfd pfd{w->proc_->channel().fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 30000) != 1)
        return Status::unavailable("the VM worker did not start within 30 s");
    auto ready = w->proc_->channel().recv();
    if (!ready || ready->type != wp::kReady)
        return Status::unavailable("the VM worker ended at start-up: " + w->proc_->wait(1000));
    const json j = json::parse(ready->body, nullptr, false);
    if (!j.is_object() || j.contains("error"))
        return Status::unavailable(
            "VM worker: " + (j.is_object() ? j.value("error", std::string("?")) : "bad message"));
    w->summary_ = j.value("sandbox", std::string("?"));
    w->last_pong_ns_ = mono_ns();
    w->reader_ = std::thread([raw = w.get()] { raw->read_loop(); });
    return w;
}

WorkerProcess::~WorkerProcess() {
    stopping_ = true;
    if (proc_) proc_->channel().shutdown();
    if (reader_.joinable()) reader_.join();
    if (proc_) proc_->wait(2000);  // it exits at the end of the channel
}

Result<json> WorkerProcess::call(uint64_t id, const char* type, const json& body,
                                 const std::vector<int>& fds, std::chrono::milliseconds timeout) {
    auto w = std::make_shared<Waiter>();
    {
        std::lock_guard lock(mu_);
        if (dead_) return Status::unavailable(death_);
        calls_[id] = w;
    }
    if (auto st = send(type, body, fds); !st)
        fulfil(*w, {}, "the VM worker is gone: " + st.message());
    std::unique_lock lock(w->mu);
    const bool done = w->cv.wait_for(lock, timeout, [&] { return w->done; });
    {
        std::lock_guard l(mu_);
        calls_.erase(id);
    }
    if (!done) return Status::timeout(std::string("the VM worker did not answer ") + type);
    if (!w->error.empty()) return Status::unavailable(w->error);
    return w->body;
}

std::shared_ptr<Waiter> WorkerProcess::watch_end(uint64_t id) {
    auto w = std::make_shared<Waiter>();
    std::lock_guard lock(mu_);
    if (dead_)
        fulfil(*w, {}, death_);
    else
        ends_[id] = w;
    return w;
}

void WorkerProcess::add_sink(uint64_t id, ConsoleFn fn) {
    std::lock_guard lock(mu_);
    sinks_[id] = std::make_shared<ConsoleFn>(std::move(fn));
}

void WorkerProcess::set_egress(uint64_t prepared, std::vector<sockaddr_storage> allowed) {
    std::lock_guard lock(mu_);
    egress_[prepared] = std::move(allowed);
}

void WorkerProcess::forget(uint64_t id) {
    std::lock_guard lock(mu_);
    sinks_.erase(id);
    ends_.erase(id);
    egress_.erase(id);
}

void WorkerProcess::read_loop() {
    for (;;) {
        auto m = proc_->channel().recv();
        if (!m) {
            if (m.code() == Code::kCorruption) {
                spdlog::warn("VM worker {}: malformed message: {}", pid(), m.message());
                continue;
            }
            break;
        }
        try {
            dispatch(*m);
        } catch (const std::exception& e) {
            spdlog::warn("VM worker {}: malformed {} message: {}", pid(), m->type.substr(0, 64),
                         e.what());
        }
    }
    if (stopping_) {
        on_death("the VM worker was stopped");
        return;
    }
    const std::string status = proc_->wait(2000);
    std::string hung;
    {
        std::lock_guard lock(mu_);
        hung = hung_;
    }
    if (!hung.empty()) {
        on_death("VM worker hung: " + hung + "; killed");
        return;
    }
    spdlog::error("VM worker {} (pid {}) died: {}", slot_, pid(), status);
    on_death("worker process died: " + status);
}

void WorkerProcess::kill_hung(const std::string& why) {
    {
        std::lock_guard lock(mu_);
        if (dead_ || !hung_.empty()) return;
        hung_ = why;
    }
    spdlog::error("VM worker {} (pid {}) hung: {}; killing it", slot_, pid(), why);
    // The reader then sees the channel close and ends it as a dead worker:
    // its instances end, their requests get 502, the next call starts a new one.
    ::kill(pid(), SIGKILL);
}

void WorkerProcess::on_death(const std::string& why) {
    std::map<uint64_t, std::shared_ptr<Waiter>> calls, ends;
    {
        std::lock_guard lock(mu_);
        dead_ = true;
        death_ = why;
        calls.swap(calls_);
        ends.swap(ends_);
    }
    for (auto& [id, w] : calls) fulfil(*w, {}, why);
    for (auto& [id, w] : ends) fulfil(*w, {}, why);
}

void WorkerProcess::dispatch(ipc::Message& m) {
    if (m.type == wp::kConsole) {
        uint64_t id;
        int fd;
        std::string_view data;
        if (!wp::decode_console(m.body, &id, &fd, &data)) return;
        std::shared_ptr<ConsoleFn> sink;
        {
            std::lock_guard lock(mu_);
            if (auto it = sinks_.find(id); it != sinks_.end()) sink = it->second;
        }
        if (sink && *sink) (*sink)(fd, data.data(), data.size());
        return;
    }
    if (m.type == wp::kPong) {
        last_pong_ns_ = mono_ns();
        return;
    }
    const json j = json::parse(m.body);
    if (m.type == wp::kConnect) return on_connect(j);
    const uint64_t id = j.at("id").get<uint64_t>();
    std::shared_ptr<Waiter> w;
    {
        std::lock_guard lock(mu_);
        auto& map = m.type == wp::kEnd ? ends_ : calls_;
        if (m.type != wp::kEnd && m.type != wp::kPrepared && m.type != wp::kRestored) return;
        if (auto it = map.find(id); it != map.end()) w = it->second;
    }
    if (w) fulfil(*w, j, "");
}

// The worker asks for an outbound connection: allowed only to what the
// service's egress rules resolved to (checked here again, the worker is not
// trusted), made non-blocking; the worker waits for it to connect. With
// udp, a UDP socket connected to the destination: it can send nowhere else
// and receives only from there.
void WorkerProcess::on_connect(const json& j) {
    const uint64_t req = j.at("req").get<uint64_t>();
    const bool udp = j.value("udp", false);
    const uint64_t prepared = j.at("prepared").get<uint64_t>();
    const std::string addr = j.at("addr").get<std::string>();
    const uint16_t port = j.at("port").get<uint16_t>();
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (j.at("family").get<int>() == 4 && inet_pton(AF_INET, addr.c_str(), &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        len = sizeof *in;
    } else if (inet_pton(AF_INET6, addr.c_str(), &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        len = sizeof *in6;
    }
    bool allowed = false;
    {
        std::lock_guard lock(mu_);
        auto it = egress_.find(prepared);
        allowed = len && it != egress_.end() && egress_allows(it->second, ss);
    }
    int err = ECONNREFUSED, fd = -1;
    if (allowed) {
        fd = ::socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      0);
        err = fd < 0 ? ENOBUFS : 0;
        if (fd >= 0) {
            const int one = 1;
            // What waits for the guest stays in this buffer (the VMM reads a
            // reply only when its ring has room): 128 KiB, as in ember-vm.
            const int rcvbuf = 64 * 1024;
            if (udp)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
            else
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
                err = errno;
                ::close(fd);
                fd = -1;
            }
        }
    }
    (void)send(wp::kConnected, {{"req", req}, {"error", err}},
               fd >= 0 ? std::vector<int>{fd} : std::vector<int>{});
    if (fd >= 0) ::close(fd);
}

// A prepared snapshot: kept by path and spec, open in each worker that holds
// instances of it (opened again in a new worker when one is placed there,
// or after the old one died).
class WorkerPrepared : public Prepared {
  public:
    WorkerPrepared(WorkerGuestFactory& f, ServiceSpec spec, std::string path,
                   std::vector<sockaddr_storage> egress, json dns, const json& reply)
        : f_(f),
          spec_(std::move(spec)),
          path_(std::move(path)),
          egress_(std::move(egress)),
          dns_(std::move(dns)),
          describe_(valid_utf8(reply.value("describe", std::string("snapshot")).substr(0, 200))),
          mem_(reply.value("memory_bytes", uint64_t{0})) {}
    ~WorkerPrepared() override {
        std::lock_guard lock(mu_);
        for (auto& [weak, id] : in_) {
            if (auto w = weak.lock()) {
                (void)w->send(wp::kRelease, {{"id", id}});
                w->forget(id);
            }
        }
    }
    std::string describe() const override { return describe_; }
    uint64_t memory_bytes() const override { return mem_; }
    const ServiceSpec& spec() const { return spec_; }
    const std::vector<sockaddr_storage>& egress() const { return egress_; }
    void opened(const std::shared_ptr<WorkerProcess>& w, uint64_t id) const {
        std::lock_guard lock(mu_);
        in_.emplace_back(w, id);
    }
    // True when it is open in w (a live worker).
    bool open_in(const WorkerProcess* w) const {
        std::lock_guard lock(mu_);
        for (const auto& [weak, id] : in_)
            if (auto p = weak.lock(); p.get() == w) return true;
        return false;
    }
    // Its id in worker w, opening it there first if needed.
    Result<uint64_t> id_in(const std::shared_ptr<WorkerProcess>& w) const;

  private:
    WorkerGuestFactory& f_;
    ServiceSpec spec_;
    std::string path_;
    std::vector<sockaddr_storage> egress_;
    json dns_;              // the resolver's table for the worker (null: none)
    std::string describe_;  // the worker's, made valid text
    uint64_t mem_;
    mutable std::mutex open_mu_;
    mutable std::mutex mu_;
    // The workers it is open in, and its id in each.
    mutable std::vector<std::pair<std::weak_ptr<WorkerProcess>, uint64_t>> in_;
};

Status add_volume_fds(VolumeStore* store, const ServiceSpec& spec, std::vector<int>* fds,
                      json* body) {
    if (spec.volumes.empty()) return Status::ok();
    if (!store) return Status::unsupported("this emberd has no volumes");
    json quotas = json::array();
    for (const auto& v : spec.volumes) {
        auto rec = store->get(v.name);
        if (!rec) return rec.status();
        if (!*rec) return Status::not_found("volume '" + v.name + "' not found");
        const std::string p = store->path(v.name);
        const int fd = ::open(p.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return Status::from_errno("volume '" + v.name + "': " + p);
        fds->push_back(fd);
        quotas.push_back((*rec)->size_bytes);
    }
    (*body)["volume_quotas"] = quotas;
    return Status::ok();
}

Result<uint64_t> WorkerPrepared::id_in(const std::shared_ptr<WorkerProcess>& w) const {
    // One open at a time; mu_ only for the list, which place() reads.
    std::lock_guard open_lock(open_mu_);
    {
        std::lock_guard lock(mu_);
        // Forget the workers that are gone (stopped, or died: their ids died too).
        std::erase_if(in_, [](const auto& e) {
            auto p = e.first.lock();
            return !p || p->dead();
        });
        for (const auto& [weak, id] : in_)
            if (weak.lock() == w) return id;
    }
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno("snapshot " + path_ + ": cannot open");
    std::vector<int> fds{fd};
    json body{{"id", 0}, {"name", path_}, {"spec", spec_to_json(spec_)}};
    if (!dns_.is_null()) body["dns"] = dns_;
    if (auto st = add_volume_fds(f_.volume_store(), spec_, &fds, &body); !st) {
        for (int v : fds) ::close(v);
        return st;
    }
    const uint64_t id = f_.next_id();
    body["id"] = id;
    w->set_egress(id, egress_);
    auto r = w->call(id, wp::kOpen, body, fds, std::chrono::seconds(60));
    for (int v : fds) ::close(v);
    if (r && !r->value("ok", false)) r = Status(code_from(*r), r->value("error", std::string()));
    if (!r) {
        w->forget(id);
        return Status(r.code(), "opening the snapshot in a VM worker: " + r.message());
    }
    std::lock_guard lock(mu_);
    in_.emplace_back(w, id);
    return id;
}

// An instance in a worker. post() is one message; run() waits for the
// worker's end report (or its death).
class WorkerGuest : public Guest {
  public:
    WorkerGuest(std::shared_ptr<WorkerProcess> w, uint64_t id, std::shared_ptr<Waiter> end,
                const json& restored)
        : w_(std::move(w)),
          id_(id),
          end_(std::move(end)),
          reused_(restored.value("reused", false)),
          base_(restored.value("mem_base", uint64_t{0})),
          size_(restored.value("mem_size", uint64_t{0})) {}
    ~WorkerGuest() override {
        (void)w_->send(wp::kDrop, {{"id", id_}});
        w_->forget(id_);
        w_->release_vm();
    }
    void adopt(int fd, uint16_t port) override { pass(wp::kAdopt, fd, port); }
    void post(int fd, uint16_t port) override { pass(wp::kPost, fd, port); }
    void stop() override { (void)w_->send(wp::kStop, {{"id", id_}}); }
    // The worker writes into <path>.tmp, renamed into place by run() once
    // the worker reports the instance suspended (a worker cannot create
    // files, and a half-written one never has the final name).
    void suspend(const std::string& path) override {
        std::lock_guard lock(suspend_mu_);
        if (!suspend_path_.empty()) return stop();
        const std::string tmp = path + ".tmp";
        const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            spdlog::warn("cannot create {}: {}; the instance is stopped instead", tmp,
                         std::strerror(errno));
            return stop();
        }
        suspend_path_ = path;
        (void)w_->send(wp::kSuspend, {{"id", id_}}, {fd});
        ::close(fd);
    }
    // No thread of emberd waits for the instance: its end report (or the
    // worker's death) calls ended on the worker's reader thread.
    bool start(std::function<void()> ended) override {
        started_ = true;
        (void)w_->send(wp::kRun, {{"id", id_}});
        then_call(*end_, std::move(ended));
        return true;
    }
    InstanceEnd run() override {
        if (!started_) (void)w_->send(wp::kRun, {{"id", id_}});
        InstanceEnd e;
        {
            std::unique_lock lock(end_->mu);
            end_->cv.wait(lock, [&] { return end_->done; });
            if (!end_->error.empty()) {
                e.description = end_->error;
            } else {
                e.stopped = end_->body.value("stopped", false);
                e.suspended = end_->body.value("suspended", false);
                e.description = end_->body.value("description", std::string("?"));
            }
        }
        std::lock_guard lock(suspend_mu_);
        if (suspend_path_.empty()) {
            e.suspended = false;
            return e;
        }
        const std::string tmp = suspend_path_ + ".tmp";
        if (e.suspended && ::rename(tmp.c_str(), suspend_path_.c_str()) != 0) {
            e.suspended = false;
            e.description +=
                std::string("; keeping the suspended snapshot failed: ") + std::strerror(errno);
        }
        if (!e.suspended) ::unlink(tmp.c_str());
        return e;
    }
    bool reused() const override { return reused_; }
    std::pair<uintptr_t, size_t> memory_range() const override { return {base_, size_}; }
    int memory_pid() const override { return w_->dead() ? 0 : w_->pid(); }

  private:
    void pass(const char* type, int fd, uint16_t port) {
        (void)w_->send(type, {{"id", id_}, {"port", port}}, {fd});
        ::close(fd);
    }
    std::shared_ptr<WorkerProcess> w_;
    uint64_t id_;
    std::shared_ptr<Waiter> end_;
    bool reused_;
    uintptr_t base_;
    size_t size_;
    std::mutex suspend_mu_;
    std::string suspend_path_;  // set by suspend()
    bool started_ = false;      // start() sent run
};

WorkerGuestFactory::WorkerGuestFactory(const ImageStore& images, WorkerOptions opts)
    : images_(images), opts_(std::move(opts)) {
    for (size_t i = 0; i < std::max<size_t>(1, opts_.workers); ++i)
        slots_.push_back(std::make_unique<Slot>());
}

WorkerGuestFactory::~WorkerGuestFactory() {
    {
        std::lock_guard lock(hb_mu_);
        hb_stop_ = true;
    }
    hb_cv_.notify_all();
    if (heartbeat_.joinable()) heartbeat_.join();
}

std::vector<WorkerGuestFactory::Slot*> WorkerGuestFactory::slots() const {
    std::lock_guard lock(slots_mu_);
    std::vector<Slot*> out;
    for (const auto& s : slots_) out.push_back(s.get());
    return out;
}

// Pings every live worker; kills one silent for longer than hang_ms. A slot
// whose worker is being started is skipped (the start has its own deadline).
void WorkerGuestFactory::heartbeat_loop() {
    std::unique_lock lock(hb_mu_);
    while (!hb_cv_.wait_for(lock, std::chrono::milliseconds(opts_.ping_ms),
                            [&] { return hb_stop_; })) {
        lock.unlock();
        for (Slot* s : slots()) {
            std::shared_ptr<WorkerProcess> w;
            {
                std::unique_lock l(s->mu, std::try_to_lock);
                if (l) w = s->current;
            }
            if (!w || w->dead()) continue;
            if (const uint64_t silent = w->silent_ms(); silent >= opts_.hang_ms)
                w->kill_hung("no answer to emberd's heartbeat for " + std::to_string(silent) +
                             " ms");
            else
                w->ping();
        }
        stop_idle_workers();
        lock.lock();
    }
}

void WorkerGuestFactory::stop_idle_workers() {
    const auto all = slots();
    for (size_t i = std::max<size_t>(1, opts_.workers); i < all.size(); ++i) {
        std::shared_ptr<WorkerProcess> idle;
        {
            // Under the placement lock nobody is about to reserve a VM in it.
            std::unique_lock place(place_mu_, std::try_to_lock);
            if (!place) return;
            std::lock_guard l(all[i]->mu);
            auto& w = all[i]->current;
            if (w && !w->dead() && w->empty_ms() >= opts_.idle_worker_ms) idle = std::move(w);
        }
        if (!idle) continue;
        spdlog::info("VM worker {} (pid {}): held no instance for {} ms, stopping it", i,
                     idle->pid(), idle->empty_ms());
        idle.reset();  // ends the channel: the worker exits
    }
}

Result<std::unique_ptr<WorkerGuestFactory>> WorkerGuestFactory::start(const ImageStore& images,
                                                                      WorkerOptions opts) {
    std::unique_ptr<WorkerGuestFactory> f(new WorkerGuestFactory(images, std::move(opts)));
    for (size_t i = 0; i < f->slots_.size(); ++i) {
        auto w = f->worker(i);
        if (!w) return w.status();
        if (i == 0) f->summary_ = (*w)->summary();
    }
    if (f->opts_.hang_ms && f->opts_.ping_ms)
        f->heartbeat_ = std::thread([raw = f.get()] { raw->heartbeat_loop(); });
    return f;
}

Result<std::shared_ptr<WorkerProcess>> WorkerGuestFactory::worker(size_t slot) {
    Slot* sp;
    {
        std::lock_guard l(slots_mu_);
        sp = slots_.at(slot).get();
    }
    Slot& s = *sp;
    std::lock_guard lock(s.mu);
    if (s.current && !s.current->dead()) return s.current;
    auto w = WorkerProcess::start(opts_, slot);
    if (!w) return w.status();
    spdlog::info("VM worker {} (pid {}{}){}: sandbox: {}", slot, (*w)->pid(),
                 (*w)->cgroup_name().empty() ? "" : ", cgroup " + (*w)->cgroup_name(),
                 s.current ? " replaces the one that died" : "", (*w)->summary());
    s.current = *w;
    return s.current;
}

size_t WorkerGuestFactory::slot_of(const std::string& service) const {
    return std::hash<std::string>{}(service) % std::max<size_t>(1, opts_.workers);
}

Result<std::shared_ptr<WorkerProcess>> WorkerGuestFactory::place(const std::string& service,
                                                                 const WorkerPrepared* p) {
    const size_t max = std::max<size_t>(1, opts_.vms_per_worker);
    const size_t home = slot_of(service);
    std::lock_guard place(place_mu_);
    auto all = slots();
    auto live = [](Slot* s) {
        std::lock_guard l(s->mu);
        return s->current && !s->current->dead() ? s->current : nullptr;
    };
    // The home slot first, then the others in order (which fills the first
    // workers and leaves the later ones to become idle and stop).
    std::vector<size_t> order{home};
    for (size_t i = 0; i < all.size(); ++i)
        if (i != home) order.push_back(i);
    // 1. A worker where the snapshot is open, with room.
    if (p) {
        for (size_t i : order)
            if (auto w = live(all[i]); w && p->open_in(w.get()) && w->reserve_vm(max)) return w;
    }
    // 2. Any live worker with room (the home slot's started anew when it died).
    for (size_t i : order) {
        auto w = live(all[i]);
        if (!w && i == home) {
            auto started = worker(i);
            if (!started) return started.status();
            w = *started;
        }
        if (w && w->reserve_vm(max)) return w;
    }
    // 3. A slot whose worker was stopped or died, else a new one.
    for (size_t i : order) {
        if (live(all[i])) continue;
        auto w = worker(i);
        if (!w) return w.status();
        if ((*w)->reserve_vm(max)) return *w;
    }
    if (all.size() >= opts_.max_workers)
        return Status::unavailable("all " + std::to_string(all.size()) + " VM workers hold " +
                                   std::to_string(max) +
                                   " VMs each (--vms-per-worker, --max-vm-workers)");
    size_t slot;
    {
        std::lock_guard l(slots_mu_);
        slot = slots_.size();
        slots_.push_back(std::make_unique<Slot>());
    }
    spdlog::info("VM workers 0-{} hold {} VMs each: starting VM worker {}", slot - 1, max, slot);
    auto w = worker(slot);
    if (!w) return w.status();
    (*w)->reserve_vm(max);
    return *w;
}

Result<std::shared_ptr<const Prepared>> WorkerGuestFactory::prepare(const ServiceSpec& spec,
                                                                    const std::string& path,
                                                                    const ConsoleFn& console) {
    NetConfig net;
    for (const auto& e : spec.egress) {
        auto r = parse_egress_rule(e);
        if (!r) return r.status();
        net.egress.push_back(*r);
    }
    auto egress = resolve_egress(net.egress);
    if (!egress) return Status(egress.code(), "cannot start the program: " + egress.message());
    // fds: the snapshot being written, the same read-only, the program, the files.
    std::vector<int> fds;
    struct Close {
        std::vector<int>& v;
        ~Close() {
            for (int fd : v) ::close(fd);
        }
    } close_all{fds};
    ::unlink(path.c_str());
    const std::string tmp = path + ".tmp.w" + std::to_string(::getpid());
    const int out = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) return Status::from_errno("create snapshot " + tmp);
    fds.push_back(out);
    // The worker keeps only a read-only fd of the snapshot once it is
    // written: it cannot change it after emberd sealed it.
    const int ro = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (ro < 0) {
        const Status st = Status::from_errno("open snapshot " + tmp);
        ::unlink(tmp.c_str());
        return st;
    }
    fds.push_back(ro);
    auto program = images_.open(spec.image);
    if (!program) {
        ::unlink(tmp.c_str());
        return Status(program.code(), "program: " + program.message());
    }
    fds.push_back(*program);
    for (const auto& f : spec.files) {
        auto fd = images_.open(f.image);
        if (!fd) {
            ::unlink(tmp.c_str());
            return Status(fd.code(), "file " + f.path + ": " + fd.message());
        }
        fds.push_back(*fd);
    }
    json body{{"id", 0}, {"spec", spec_to_json(spec)}};
    // Resolved with the egress rules: what the guest's resolver answers is
    // what the egress check allows.
    const json dns = net.egress.empty() ? json() : wp::encode_dns(DnsServer::resolve(net.egress));
    if (!dns.is_null()) body["dns"] = dns;
    if (auto st = add_volume_fds(opts_.volumes, spec, &fds, &body); !st) {
        ::unlink(tmp.c_str());
        return st;
    }
    // The boot's VM counts against the worker's bound while it runs.
    auto w = place(spec.name, nullptr);
    if (!w) {
        ::unlink(tmp.c_str());
        return w.status();
    }
    struct Release {
        WorkerProcess& w;
        ~Release() { w.release_vm(); }
    } release{**w};
    const uint64_t id = next_id();
    (*w)->add_sink(id, console);
    (*w)->set_egress(id, *egress);
    // At most kMaxFds per message: the first ones go ahead.
    size_t sent = 0;
    while (fds.size() - sent > ipc::kMaxFds) {
        std::vector<int> part(fds.begin() + static_cast<long>(sent),
                              fds.begin() + static_cast<long>(sent + ipc::kMaxFds));
        (void)(*w)->send(wp::kPrepareFds, {{"id", id}}, part);
        sent += ipc::kMaxFds;
    }
    body["id"] = id;
    auto r = (*w)->call(id, wp::kPrepare, body,
                        std::vector<int>(fds.begin() + static_cast<long>(sent), fds.end()),
                        std::chrono::milliseconds(opts_.vm.prepare_timeout_ms + 60000));
    if (r && !r->value("ok", false)) r = Status(code_from(*r), r->value("error", std::string()));
    if (r && ::rename(tmp.c_str(), path.c_str()) != 0)
        r = Status::from_errno("rename snapshot into " + path);
    if (!r) {
        ::unlink(tmp.c_str());
        (void)(*w)->send(wp::kRelease, {{"id", id}});
        (*w)->forget(id);
        return r.status();
    }
    // Console output of the boot ends with the reply.
    (*w)->drop_sink(id);
    auto p = std::make_shared<WorkerPrepared>(*this, spec, path, *egress, dns, *r);
    p->opened(*w, id);
    return std::shared_ptr<const Prepared>(std::move(p));
}

Result<std::shared_ptr<const Prepared>> WorkerGuestFactory::open(const ServiceSpec& spec,
                                                                 const std::string& path) {
    NetConfig net;
    for (const auto& e : spec.egress) {
        auto r = parse_egress_rule(e);
        if (!r) return r.status();
        net.egress.push_back(*r);
    }
    auto egress = resolve_egress(net.egress);
    if (!egress) return egress.status();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno("snapshot " + path + ": cannot open");
    std::vector<int> fds{fd};
    struct Close {
        std::vector<int>& v;
        ~Close() {
            for (int f : v) ::close(f);
        }
    } close_all{fds};
    json body{{"id", 0}, {"name", path}, {"spec", spec_to_json(spec)}};
    // Resolved with the egress rules: what the guest's resolver answers is
    // what the egress check allows.
    const json dns = net.egress.empty() ? json() : wp::encode_dns(DnsServer::resolve(net.egress));
    if (!dns.is_null()) body["dns"] = dns;
    if (auto st = add_volume_fds(opts_.volumes, spec, &fds, &body); !st) return st;
    auto w = worker(slot_of(spec.name));
    if (!w) return w.status();
    const uint64_t id = next_id();
    body["id"] = id;
    (*w)->set_egress(id, *egress);
    auto r = (*w)->call(id, wp::kOpen, body, fds, std::chrono::seconds(60));
    if (r && !r->value("ok", false)) r = Status(code_from(*r), r->value("error", std::string()));
    if (!r) {
        (*w)->forget(id);
        return r.status();
    }
    auto p = std::make_shared<WorkerPrepared>(*this, spec, path, *egress, dns, *r);
    p->opened(*w, id);
    return std::shared_ptr<const Prepared>(std::move(p));
}

Result<std::unique_ptr<Guest>> WorkerGuestFactory::restore(const std::shared_ptr<const Prepared>& p,
                                                           const ConsoleFn& console) {
    return restore_retry(p, console, "");
}

Result<std::unique_ptr<Guest>> WorkerGuestFactory::resume(const std::shared_ptr<const Prepared>& p,
                                                          const std::string& path,
                                                          const ConsoleFn& console) {
    return restore_retry(p, console, path);
}

Result<std::unique_ptr<Guest>> WorkerGuestFactory::restore_retry(
    const std::shared_ptr<const Prepared>& p, const ConsoleFn& console,
    const std::string& resume_path) {
    // A worker that died a moment ago may not have been noticed yet: then
    // once more, elsewhere (or in its successor).
    std::shared_ptr<WorkerProcess> used;
    auto g = restore_once(p, console, resume_path, &used);
    if (g || g.code() != Code::kUnavailable || !used) return g;
    // Its reader may still be on the way to the end of the channel.
    for (int i = 0; i < 100 && !used->dead(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return restore_once(p, console, resume_path, &used);
}

Result<std::unique_ptr<Guest>> WorkerGuestFactory::restore_once(
    const std::shared_ptr<const Prepared>& p, const ConsoleFn& console,
    const std::string& resume_path, std::shared_ptr<WorkerProcess>* used) {
    // Every Prepared this factory hands out is a WorkerPrepared.
    const auto& wp_ = static_cast<const WorkerPrepared&>(*p);
    auto w = place(wp_.spec().name, &wp_);
    if (!w) return w.status();
    *used = *w;
    // Given back on every path but success (then the WorkerGuest's).
    bool keep = false;
    struct Release {
        WorkerProcess& w;
        bool& keep;
        ~Release() {
            if (!keep) w.release_vm();
        }
    } release{**w, keep};
    auto prepared_id = wp_.id_in(*w);
    if (!prepared_id) return prepared_id.status();
    std::vector<int> fds;
    if (!resume_path.empty()) {
        const int fd = ::open(resume_path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return Status::from_errno("suspended snapshot " + resume_path);
        fds.push_back(fd);
    }
    const uint64_t id = next_id();
    (*w)->add_sink(id, console);
    auto end = (*w)->watch_end(id);
    auto r = (*w)->call(id, resume_path.empty() ? wp::kRestore : wp::kResume,
                        {{"id", id}, {"prepared", *prepared_id}}, fds, std::chrono::seconds(30));
    for (int fd : fds) ::close(fd);
    if (r && !r->value("ok", false)) r = Status(code_from(*r), r->value("error", std::string()));
    if (!r) {
        (void)(*w)->send(wp::kDrop, {{"id", id}});
        (*w)->forget(id);
        return r.status();
    }
    keep = true;
    return std::unique_ptr<Guest>(std::make_unique<WorkerGuest>(*w, id, std::move(end), *r));
}

}  // namespace ember::platform
