#include "platform/cgroups.h"

#include <errno.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/units.h"

namespace ember::platform {

namespace {

// The v1 hierarchies whose controllers Ember uses.
constexpr const char* kV1Controllers[] = {"memory", "cpu", "pids"};
// The leaf that holds emberd's own processes in a delegated v2 cgroup.
constexpr const char* kSelfLeaf = "emberd";
constexpr uint64_t kCpuPeriodUs = 100000;

bool exists(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
}

bool is_dir(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Writes one value to a cgroup control file as `echo value > file` does;
// 0 or the errno.
int put(const std::string& path, const std::string& value) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    const ssize_t n = ::write(fd, value.data(), value.size());
    const int err = n < 0 ? errno : EIO;
    ::close(fd);
    return n == static_cast<ssize_t>(value.size()) ? 0 : err;
}

Status write_file(const std::string& path, const std::string& value) {
    const int err = put(path, value);
    return err ? Status::from_errno("cannot write '" + value + "' to " + path, err) : Status::ok();
}

// systemd marks a cgroup it delegated (Delegate=yes) with this xattr: the
// trusted one when systemd runs as root, the user one for user managers.
bool delegation_marked(const std::string& dir) {
    for (const char* name : {"trusted.delegate", "user.delegate"}) {
        char v[8] = {};
        const ssize_t n = ::getxattr(dir.c_str(), name, v, sizeof(v) - 1);
        if (n == 1 && v[0] == '1') return true;
    }
    return false;
}

// /proc/self/cgroup: "ID:controller,list:/path" per hierarchy; "0::/path"
// is the v2 one (key "").
std::map<std::string, std::string> parse_proc_cgroup(const std::string& text) {
    std::map<std::string, std::string> own;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto a = line.find(':');
        const auto b = a == std::string::npos ? a : line.find(':', a + 1);
        if (b == std::string::npos) continue;
        const std::string ctrls = line.substr(a + 1, b - a - 1);
        const std::string path = line.substr(b + 1);
        if (ctrls.empty()) {
            own[""] = path;
            continue;
        }
        std::istringstream cs(ctrls);
        std::string c;
        while (std::getline(cs, c, ',')) own[c] = path;
    }
    return own;
}

// "/a/b" from an operator's PATH: no "." or ".." parts, no empty result.
std::string clean_cgroup_path(const std::string& p) {
    std::string out;
    std::istringstream in(p);
    std::string part;
    while (std::getline(in, part, '/')) {
        if (part.empty()) continue;
        if (part == "." || part == "..") return "";
        out += "/" + part;
    }
    return out;
}

// "" when dir is a cgroup emberd may manage; else what is wrong.
std::string check_usable(const std::string& dir) {
    if (!is_dir(dir)) return dir + " is not a directory";
    if (!exists(dir + "/cgroup.procs")) return dir + " is not a cgroup (no cgroup.procs)";
    if (::access(dir.c_str(), W_OK) != 0 || ::access((dir + "/cgroup.procs").c_str(), W_OK) != 0)
        return dir + " is not writable by emberd";
    return "";
}

std::string missing_v2_controllers(const std::string& dir) {
    std::istringstream in(read_text(dir + "/cgroup.controllers"));
    std::set<std::string> have;
    for (std::string c; in >> c;) have.insert(c);
    std::string missing;
    for (const char* c : kV1Controllers)
        if (!have.count(c)) missing += std::string(missing.empty() ? "" : " ") + c;
    return missing;
}

bool valid_name(const std::string& n) {
    if (n.empty() || n.size() > 64 || n[0] == '.' || n == kSelfLeaf) return false;
    for (char c : n)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
            return false;
    return true;
}

}  // namespace

std::string describe_limits(const CgroupLimits& l) {
    std::string s;
    auto add = [&](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
    if (l.memory_bytes) add("memory " + format_size(l.memory_bytes));
    if (l.cpus > 0) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "cpus %g", l.cpus);
        add(buf);
    }
    if (l.pids) add("pids " + std::to_string(l.pids));
    return s.empty() ? "no limits" : s;
}

const char* cgroup_mode_name(CgroupMode m) {
    switch (m) {
        case CgroupMode::kV2:
            return "v2";
        case CgroupMode::kV1Hybrid:
            return "v1 hybrid";
        case CgroupMode::kV1Legacy:
            return "v1 legacy";
        case CgroupMode::kNone:
            break;
    }
    return "none";
}

Result<std::shared_ptr<Cgroups>> Cgroups::detect(const std::string& option,
                                                 const CgroupHost& host) {
    std::shared_ptr<Cgroups> cg(new Cgroups());
    cg->host_ = host;
    const std::string& root = host.root;
    cg->own_ = parse_proc_cgroup(host.proc_self_cgroup.empty() ? read_text("/proc/self/cgroup")
                                                               : host.proc_self_cgroup);
    if (exists(root + "/cgroup.controllers"))
        cg->mode_ = CgroupMode::kV2;
    else if (exists(root + "/unified/cgroup.controllers"))
        cg->mode_ = CgroupMode::kV1Hybrid;
    else if (exists(root + "/memory/cgroup.procs") || exists(root + "/pids/cgroup.procs"))
        cg->mode_ = CgroupMode::kV1Legacy;
    const bool v2 = cg->mode_ == CgroupMode::kV2;
    const std::string mode = cgroup_mode_name(cg->mode_);

    if (option == "off") {
        cg->why_off_ = "--cgroup off";
        return cg;
    }
    if (cg->mode_ == CgroupMode::kNone) {
        if (option != "auto")
            return Status::unsupported("--cgroup " + option + ": no cgroup filesystem at " + root);
        cg->why_off_ = "no cgroup filesystem at " + root;
        return cg;
    }

    if (option != "auto") {
        std::string rel = option;
        if (v2 && rel.rfind(root + "/", 0) == 0) rel = rel.substr(root.size());
        rel = clean_cgroup_path(rel);
        if (rel.empty())
            return Status::invalid_argument("--cgroup " + option +
                                            ": expected a cgroup below the root, e.g. /ember");
        std::vector<std::string> dirs;
        if (v2) {
            dirs.push_back(root + rel);
        } else {
            for (const char* c : kV1Controllers) dirs.push_back(root + "/" + c + rel);
        }
        for (const auto& d : dirs)
            if (auto err = check_usable(d); !err.empty())
                return Status::invalid_argument("--cgroup " + option + ": " + err);
        if (v2) {
            if (auto m = missing_v2_controllers(dirs[0]); !m.empty())
                return Status::unsupported("--cgroup " + option +
                                           ": controllers not available in " + dirs[0] + ": " + m);
        }
        cg->dirs_ = dirs;
        cg->label_ = v2 ? dirs[0] : rel + " in the memory, cpu and pids hierarchies";
        return cg;
    }

    // auto: only what systemd marked as delegated to the unit emberd runs in.
    const std::string hint = "; pass --cgroup PATH to delegate one";
    if (v2) {
        const auto it = cg->own_.find("");
        if (it == cg->own_.end()) {
            cg->why_off_ = mode + "; emberd's cgroup is unknown (no 0:: line in /proc/self/cgroup)";
            return cg;
        }
        const std::string dir = root + clean_cgroup_path(it->second);
        if (it->second == "/" || !delegation_marked(dir)) {
            cg->why_off_ = mode + "; emberd's cgroup " + it->second +
                           " is not delegated to it (no systemd Delegate=yes mark)" + hint;
            return cg;
        }
        std::string err = check_usable(dir);
        if (err.empty()) {
            if (auto m = missing_v2_controllers(dir); !m.empty())
                err = "controllers not available in " + dir + ": " + m;
        }
        if (!err.empty()) {
            cg->why_off_ = mode + "; delegated cgroup unusable: " + err;
            return cg;
        }
        cg->dirs_ = {dir};
        cg->label_ = dir;
        return cg;
    }
    const bool hybrid = cg->mode_ == CgroupMode::kV1Hybrid;
    const std::string unit_key = hybrid ? "" : "name=systemd";
    const auto unit = cg->own_.find(unit_key);
    std::string paths;
    for (const char* c : kV1Controllers) {
        const auto it = cg->own_.find(c);
        paths += std::string(paths.empty() ? "" : " ") + c + ":" +
                 (it == cg->own_.end() ? "?" : it->second);
    }
    const std::string unit_dir =
        unit == cg->own_.end()
            ? ""
            : root + (hybrid ? "/unified" : "/systemd") + clean_cgroup_path(unit->second);
    bool same = unit != cg->own_.end() && unit->second != "/";
    for (const char* c : kV1Controllers) {
        const auto it = cg->own_.find(c);
        same = same && it != cg->own_.end() && it->second == unit->second;
    }
    if (!same || !delegation_marked(unit_dir)) {
        cg->why_off_ = mode + "; emberd's cgroups (" + paths +
                       ") are managed by the host, not delegated" + hint;
        return cg;
    }
    std::vector<std::string> dirs;
    for (const char* c : kV1Controllers) {
        dirs.push_back(root + "/" + c + clean_cgroup_path(unit->second));
        if (auto err = check_usable(dirs.back()); !err.empty()) {
            cg->why_off_ = mode + "; delegated cgroup unusable: " + err;
            return cg;
        }
    }
    cg->dirs_ = dirs;
    cg->label_ = unit->second + " in the memory, cpu and pids hierarchies";
    return cg;
}

Result<std::shared_ptr<Cgroups>> Cgroups::open_for_emberd(const std::string& option,
                                                          const CgroupLimits& worker_limits) {
    auto cg = detect(option);
    if (!cg) return cg.status();
    if (auto st = (*cg)->activate(); !st) {
        if (option != "auto") return Status(st.code(), "--cgroup " + option + ": " + st.message());
        (*cg)->why_off_ = std::string(cgroup_mode_name((*cg)->mode_)) +
                          "; the delegated cgroup could not be set up: " + st.message();
        (*cg)->dirs_.clear();
    }
    if ((*cg)->on())
        spdlog::info("{}; each worker: {}", (*cg)->describe(), describe_limits(worker_limits));
    else
        spdlog::info("{}", (*cg)->describe());
    return cg;
}

std::string Cgroups::describe() const {
    if (!on()) return "cgroups: off (" + why_off_ + ")";
    return std::string("cgroups: on (") + cgroup_mode_name(mode_) + ", delegated " + label_ +
           "; memory, cpu and pids limits per worker)";
}

Status Cgroups::activate() {
    if (!on() || mode_ != CgroupMode::kV2) return Status::ok();
    const std::string& d = dirs_[0];
    std::istringstream procs(read_text(d + "/cgroup.procs"));
    std::vector<std::string> pids;
    for (std::string p; procs >> p;) pids.push_back(p);
    if (!pids.empty()) {
        // The delegated cgroup is ours: its processes (emberd) go to a leaf
        // so that the controllers can be enabled below it.
        const std::string leaf = d + "/" + kSelfLeaf;
        if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST)
            return Status::from_errno("cannot create " + leaf);
        for (const auto& p : pids) {
            // A process that exited meanwhile is gone from the cgroup anyway.
            if (const int err = put(leaf + "/cgroup.procs", p); err && err != ESRCH)
                return Status::from_errno("cannot move process " + p + " to " + leaf, err);
        }
    }
    return write_file(d + "/cgroup.subtree_control", "+memory +cpu +pids");
}

Result<std::unique_ptr<Cgroup>> Cgroups::create(const std::string& name,
                                                const CgroupLimits& limits) const {
    if (!on()) return Status::unsupported("cgroups are off");
    if (!valid_name(name))
        return Status::invalid_argument("bad cgroup name '" + name +
                                        "': letters, digits, '-', '_', '.'; not 'emberd'");
    // Owns what it created so far: an error below removes it again.
    std::unique_ptr<Cgroup> cg(new Cgroup({}, host_.rmdir));
    for (const auto& d : dirs_) {
        const std::string dir = d + "/" + name;
        if (::mkdir(dir.c_str(), 0755) != 0) {
            if (errno == EEXIST)
                return Status::conflict("cgroup " + dir +
                                        " exists already (left by an earlier emberd? rmdir it)");
            return Status::from_errno("cannot create cgroup " + dir);
        }
        cg->dirs_.push_back(dir);
    }
    const uint64_t quota_us =
        limits.cpus > 0 ? std::max<uint64_t>(
                              1000, static_cast<uint64_t>(std::llround(limits.cpus * kCpuPeriodUs)))
                        : 0;
    std::vector<std::pair<std::string, std::string>> writes;
    if (mode_ == CgroupMode::kV2) {
        const std::string& dir = cg->dirs_[0];
        if (limits.memory_bytes)
            writes.emplace_back(dir + "/memory.max", std::to_string(limits.memory_bytes));
        if (quota_us)
            writes.emplace_back(dir + "/cpu.max",
                                std::to_string(quota_us) + " " + std::to_string(kCpuPeriodUs));
        if (limits.pids) writes.emplace_back(dir + "/pids.max", std::to_string(limits.pids));
    } else {
        const std::string &mem = cg->dirs_[0], &cpu = cg->dirs_[1], &pids = cg->dirs_[2];
        if (limits.memory_bytes)
            writes.emplace_back(mem + "/memory.limit_in_bytes",
                                std::to_string(limits.memory_bytes));
        if (quota_us) {
            writes.emplace_back(cpu + "/cpu.cfs_period_us", std::to_string(kCpuPeriodUs));
            writes.emplace_back(cpu + "/cpu.cfs_quota_us", std::to_string(quota_us));
        }
        if (limits.pids) writes.emplace_back(pids + "/pids.max", std::to_string(limits.pids));
    }
    for (const auto& [file, value] : writes)
        if (auto st = write_file(file, value); !st) return st;
    return cg;
}

Status Cgroup::add(pid_t pid) {
    for (const auto& d : dirs_)
        if (auto st = write_file(d + "/cgroup.procs", std::to_string(pid)); !st) return st;
    return Status::ok();
}

Status Cgroup::remove(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!dirs_.empty()) {
        const std::string& d = dirs_.back();
        if (rmdir_(d.c_str()) == 0 || errno == ENOENT) {
            dirs_.pop_back();
            continue;
        }
        // EBUSY: processes are still in it (exiting ones leave shortly).
        if (errno != EBUSY || std::chrono::steady_clock::now() >= deadline)
            return Status::from_errno("cannot remove cgroup " + d);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Status::ok();
}

Cgroup::~Cgroup() {
    if (auto st = remove(200); !st) spdlog::warn("{} (left in place)", st.message());
}

}  // namespace ember::platform
