// guest.h - how the instance manager runs instances, as interfaces: the
// real implementation restores KVM microVMs from snapshots (vm_guest.cpp);
// tests use fakes that serve HTTP from host threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/result.h"
#include "platform/service_spec.h"

namespace ember::platform {

// Console output of an instance (fd 1 or 2); called on its run() thread.
using ConsoleFn = std::function<void(int fd, const char* data, size_t len)>;

// How an instance ended.
struct InstanceEnd {
    bool stopped = false;     // stop() or suspend() was called (scale to zero, shutdown)
    std::string description;  // "exited with status 0", "crashed: ...", ...
    bool suspended = false;   // suspend() wrote the instance to its path
};

// One running instance.
class Guest {
  public:
    virtual ~Guest() = default;
    // Before run(): hands a connection to the guest's listener on port, so
    // that it is there when the guest resumes. Takes fd.
    virtual void adopt(int fd, uint16_t port) = 0;
    // Thread-safe, also while run() executes: hands a connection to the
    // guest. Takes fd (closed if nothing listens on port).
    virtual void post(int fd, uint16_t port) = 0;
    // Thread-safe: makes run() return soon.
    virtual void stop() = 0;
    // Thread-safe: like stop(), but the instance first saves itself to
    // `path` (a suspended snapshot, to be resumed by GuestFactory::resume):
    // its connections get end-of-file, and once it waits for new ones it is
    // written and run() returns with `suspended` set. stop() still ends it
    // without saving (e.g. when it does not get there in time). Guests that
    // cannot be suspended just stop.
    virtual void suspend(const std::string& path) {
        (void)path;
        stop();
    }
    // Runs the instance until it ends; once. The destructor closes the
    // connections the instance still holds.
    virtual InstanceEnd run() = 0;
    // Starts the instance without a thread waiting for its end, where the
    // guest can (its VM runs elsewhere): `ended` is then called once, on
    // any thread, when the instance has ended, and must not block (it hands
    // the end to a thread that calls run(), which then returns at once).
    // The guest must outlive that call. False: not supported, and run()
    // both starts the instance and waits. Before run(); at most once.
    virtual bool start(std::function<void()> ended) {
        (void)ended;
        return false;
    }
    // True when the instance runs in a VM reused from an earlier instance
    // (reset to the snapshot), false for a restore into a new VM.
    virtual bool reused() const { return false; }
    // Where its guest RAM is mapped ({0, 0}: unknown), for memory
    // accounting (proc_memory.h), in the process memory_pid() (0: this one).
    // Thread-safe.
    virtual std::pair<uintptr_t, size_t> memory_range() const { return {0, 0}; }
    virtual int memory_pid() const { return 0; }
};

// A service made ready to start instances: its snapshot, opened.
class Prepared {
  public:
    virtual ~Prepared() = default;
    virtual std::string describe() const = 0;   // e.g. "snapshot 812 pages"
    virtual uint64_t memory_bytes() const = 0;  // guest memory size
};

class GuestFactory {
  public:
    virtual ~GuestFactory() = default;
    // Boots the service's program until it is READY (waits for connections
    // on spec.port with none pending) and writes the snapshot to
    // snapshot_path. A program that exits, crashes, listens elsewhere or
    // is not READY within the deadline is an error whose message includes
    // the end of its console output. console receives all output as well.
    virtual Result<std::shared_ptr<const Prepared>> prepare(const ServiceSpec& spec,
                                                            const std::string& snapshot_path,
                                                            const ConsoleFn& console) = 0;
    // Opens a snapshot prepared earlier (after a restart); an error when it is
    // missing, damaged or was made on an incompatible host.
    virtual Result<std::shared_ptr<const Prepared>> open(const ServiceSpec& spec,
                                                         const std::string& snapshot_path) = 0;
    // A new instance from p, not yet running. Thread-safe.
    virtual Result<std::unique_ptr<Guest>> restore(const std::shared_ptr<const Prepared>& p,
                                                   const ConsoleFn& console) = 0;
    // The instance an earlier Guest::suspend(path) saved, on p (the
    // snapshot it was an instance of), not yet running. An error when the
    // file is missing, damaged or of another snapshot: the caller discards
    // it. Thread-safe.
    virtual Result<std::unique_ptr<Guest>> resume(const std::shared_ptr<const Prepared>& p,
                                                  const std::string& path,
                                                  const ConsoleFn& console) {
        (void)p;
        (void)path;
        (void)console;
        return Status::unsupported("this factory cannot resume suspended instances");
    }
};

}  // namespace ember::platform
