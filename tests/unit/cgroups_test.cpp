// The cgroup layer against fake cgroup trees in a temporary directory (how
// each host layout is detected, the files written for limits, that nothing
// outside the cgroups Ember creates changes), and against a real delegated
// cgroup when EMBER_TEST_CGROUP names one.
#include "platform/cgroups.h"

#include <dirent.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace ember::platform {
namespace {

class FakeTree {
  public:
    FakeTree() {
        const char* t = getenv("TMPDIR");
        std::string tmpl = std::string(t && *t ? t : "/tmp") + "/ember-cgroup-test.XXXXXX";
        if (mkdtemp(tmpl.data())) root_ = tmpl;
    }
    ~FakeTree() {
        if (!root_.empty()) (void)!system(("rm -rf '" + root_ + "'").c_str());
    }
    const std::string& root() const { return root_; }
    // A directory (and its parents) under the root, with a cgroup.procs file.
    std::string cgroup(const std::string& rel, const std::string& procs = "") {
        const std::string dir = root_ + rel;
        (void)!system(("mkdir -p '" + dir + "'").c_str());
        file(rel + "/cgroup.procs", procs);
        return dir;
    }
    void file(const std::string& rel, const std::string& text) {
        std::ofstream(root_ + rel) << text;
    }
    std::string read(const std::string& abs) const {
        std::ifstream f(abs);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }
    // Every file and directory under the root with its contents.
    std::map<std::string, std::string> listing() const {
        std::map<std::string, std::string> out;
        walk(root_, &out);
        return out;
    }
    CgroupHost host(const std::string& proc_self_cgroup) const {
        CgroupHost h;
        h.root = root_;
        h.proc_self_cgroup = proc_self_cgroup;
        // Plain directories keep the files Ember wrote; cgroupfs drops them.
        h.rmdir = [](const char* p) {
            (void)!system(("rm -f '" + std::string(p) + "'/*").c_str());
            return ::rmdir(p);
        };
        return h;
    }

  private:
    void walk(const std::string& dir, std::map<std::string, std::string>* out) const {
        DIR* d = opendir(dir.c_str());
        if (!d) return;
        while (dirent* e = readdir(d)) {
            const std::string n = e->d_name;
            if (n == "." || n == "..") continue;
            const std::string p = dir + "/" + n;
            struct stat st;
            if (stat(p.c_str(), &st) != 0) continue;
            if (S_ISDIR(st.st_mode)) {
                (*out)[p.substr(root_.size())] = "<dir>";
                walk(p, out);
            } else {
                (*out)[p.substr(root_.size())] = read(p);
            }
        }
        closedir(d);
    }
    std::string root_;
};

// This project's test machines: v1 controllers plus an empty unified
// hierarchy, emberd's memory cgroup placed by the host.
constexpr const char* kHostManagedV1 =
    "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/e2c0\n1:cpu:/\n0::/\n";

void make_v1(FakeTree& t, bool hybrid) {
    if (hybrid) t.cgroup("/unified"), t.file("/unified/cgroup.controllers", "");
    for (const char* c : {"memory", "cpu", "pids", "systemd"}) t.cgroup(std::string("/") + c);
}

std::string make_v2(FakeTree& t, const std::string& rel,
                    const std::string& controllers = "cpuset cpu io memory pids") {
    t.file("/cgroup.controllers", controllers);
    const std::string d = t.cgroup(rel);
    t.file(rel + "/cgroup.controllers", controllers);
    t.file(rel + "/cgroup.subtree_control", "");
    return d;
}

// systemd's mark on a cgroup it delegated; false where the file system does
// not take user xattrs.
bool mark_delegated(const std::string& dir) {
    return setxattr(dir.c_str(), "user.delegate", "1", 1, 0) == 0;
}

#define SKIP_WITHOUT_XATTRS(dir) \
    if (!mark_delegated(dir))    \
    GTEST_SKIP() << "user xattrs not supported under " << (dir) << ": " << strerror(errno)

TEST(CgroupDetect, V1HybridUnderAHostManagedHierarchyIsOffAndSaysWhy) {
    FakeTree t;
    make_v1(t, true);
    t.cgroup("/memory/process_api/e2c0", "1\n");
    auto cg = Cgroups::detect("auto", t.host(kHostManagedV1));
    ASSERT_TRUE(cg) << cg.message();
    EXPECT_FALSE((*cg)->on());
    EXPECT_EQ((*cg)->mode(), CgroupMode::kV1Hybrid);
    EXPECT_EQ((*cg)->own().at("memory"), "/process_api/e2c0");
    EXPECT_EQ((*cg)->own().at(""), "/");
    const std::string d = (*cg)->describe();
    EXPECT_NE(d.find("cgroups: off (v1 hybrid"), std::string::npos) << d;
    EXPECT_NE(d.find("memory:/process_api/e2c0"), std::string::npos) << d;
    EXPECT_NE(d.find("managed by the host"), std::string::npos) << d;
    EXPECT_NE(d.find("--cgroup PATH"), std::string::npos) << d;
}

TEST(CgroupDetect, V1HybridUnitMarkedDelegatedIsOn) {
    FakeTree t;
    make_v1(t, true);
    const std::string unit = "/system.slice/emberd.service";
    const std::string u = t.cgroup("/unified" + unit);
    for (const char* c : {"/memory", "/cpu", "/pids"}) t.cgroup(c + unit);
    SKIP_WITHOUT_XATTRS(u);
    const std::string proc =
        "8:pids:" + unit + "\n4:memory:" + unit + "\n1:cpu:" + unit + "\n0::" + unit + "\n";
    auto cg = Cgroups::detect("auto", t.host(proc));
    ASSERT_TRUE(cg) << cg.message();
    ASSERT_TRUE((*cg)->on()) << (*cg)->describe();
    EXPECT_EQ((*cg)->delegated(),
              (std::vector<std::string>{t.root() + "/memory" + unit, t.root() + "/cpu" + unit,
                                        t.root() + "/pids" + unit}));
    // The same mark but a memory cgroup the host placed elsewhere: off.
    auto other = Cgroups::detect(
        "auto", t.host("8:pids:" + unit + "\n4:memory:/elsewhere\n1:cpu:" + unit + "\n0::" + unit));
    ASSERT_TRUE(other);
    EXPECT_FALSE((*other)->on());
}

TEST(CgroupDetect, V1LegacyMarkIsReadFromTheNamedSystemdHierarchy) {
    FakeTree t;
    make_v1(t, false);
    const std::string unit = "/ember.service";
    for (const char* c : {"/memory", "/cpu", "/pids"}) t.cgroup(c + unit);
    const std::string s = t.cgroup("/systemd" + unit);
    SKIP_WITHOUT_XATTRS(s);
    const std::string proc = "9:name=systemd:" + unit + "\n8:pids:" + unit + "\n4:memory:" + unit +
                             "\n1:cpu,cpuacct:" + unit + "\n";
    auto cg = Cgroups::detect("auto", t.host(proc));
    ASSERT_TRUE(cg) << cg.message();
    EXPECT_EQ((*cg)->mode(), CgroupMode::kV1Legacy);
    EXPECT_TRUE((*cg)->on()) << (*cg)->describe();
}

TEST(CgroupDetect, V2CgroupMarkedDelegatedBySystemdIsOn) {
    FakeTree t;
    const std::string d = make_v2(t, "/system.slice/emberd.service");
    SKIP_WITHOUT_XATTRS(d);
    auto cg = Cgroups::detect("auto", t.host("0::/system.slice/emberd.service\n"));
    ASSERT_TRUE(cg) << cg.message();
    ASSERT_TRUE((*cg)->on()) << (*cg)->describe();
    EXPECT_EQ((*cg)->mode(), CgroupMode::kV2);
    EXPECT_EQ((*cg)->describe(),
              "cgroups: on (v2, delegated " + d + "; memory, cpu and pids limits per worker)");
}

TEST(CgroupDetect, V2CgroupWithoutTheMarkIsOff) {
    FakeTree t;
    const std::string d = make_v2(t, "/user.slice/session-1.scope");
    ASSERT_EQ(setxattr(d.c_str(), "user.delegate", "0", 1, 0) == 0 || errno == ENOTSUP, true);
    auto cg = Cgroups::detect("auto", t.host("0::/user.slice/session-1.scope\n"));
    ASSERT_TRUE(cg) << cg.message();
    EXPECT_FALSE((*cg)->on());
    EXPECT_NE((*cg)->describe().find("not delegated"), std::string::npos) << (*cg)->describe();
}

TEST(CgroupDetect, OffAndNoCgroupFilesystemAreOff) {
    FakeTree t;
    make_v2(t, "/ember");
    auto off = Cgroups::detect("off", t.host("0::/ember\n"));
    ASSERT_TRUE(off);
    EXPECT_EQ((*off)->describe(), "cgroups: off (--cgroup off)");
    FakeTree empty;
    auto none = Cgroups::detect("auto", empty.host("0::/\n"));
    ASSERT_TRUE(none);
    EXPECT_EQ((*none)->mode(), CgroupMode::kNone);
    EXPECT_FALSE((*none)->on());
    EXPECT_FALSE(Cgroups::detect("/ember", empty.host("0::/\n")));
}

TEST(CgroupDetect, ExplicitPathIsTheOperatorsDelegation) {
    FakeTree t;
    const std::string d = make_v2(t, "/ember");
    for (const std::string& opt :
         std::vector<std::string>{"/ember", "ember", t.root() + "/ember"}) {
        auto cg = Cgroups::detect(opt, t.host("0::/\n"));
        ASSERT_TRUE(cg) << opt << ": " << cg.message();
        EXPECT_EQ((*cg)->delegated(), std::vector<std::string>{d}) << opt;
    }
}

TEST(CgroupDetect, ExplicitPathThatIsMissingRootOrClimbingIsRefused) {
    FakeTree t;
    make_v2(t, "/ember");
    make_v2(t, "/nocpu", "memory pids");
    for (const std::string opt : {"/missing", "/", "/ember/..", "../ember", "/nocpu"}) {
        auto cg = Cgroups::detect(opt, t.host("0::/\n"));
        EXPECT_FALSE(cg) << opt;
    }
}

TEST(CgroupDetect, ExplicitV1PathMustExistInEveryHierarchy) {
    FakeTree t;
    make_v1(t, true);
    t.cgroup("/memory/ember");
    t.cgroup("/cpu/ember");
    EXPECT_FALSE(Cgroups::detect("/ember", t.host(kHostManagedV1)));
    t.cgroup("/pids/ember");
    auto cg = Cgroups::detect("/ember", t.host(kHostManagedV1));
    ASSERT_TRUE(cg) << cg.message();
    EXPECT_TRUE((*cg)->on());
}

// Paths that differ between two listings of a tree.
std::vector<std::string> changed(const std::map<std::string, std::string>& a,
                                 const std::map<std::string, std::string>& b) {
    std::vector<std::string> out;
    for (const auto& [p, v] : b)
        if (!a.count(p) || a.at(p) != v) out.push_back(p);
    for (const auto& [p, v] : a)
        if (!b.count(p)) out.push_back(p);
    return out;
}

TEST(CgroupCreate, V2WritesLimitsOnlyInsideTheCgroupsItCreated) {
    FakeTree t;
    make_v2(t, "/sys.slice/emberd.service");
    t.file("/sys.slice/emberd.service/cgroup.procs", "4242\n");
    t.cgroup("/sys.slice/other.service", "77\n");
    const auto before = t.listing();
    auto cg = Cgroups::detect("/sys.slice/emberd.service", t.host("0::/sys.slice/emberd.service"));
    ASSERT_TRUE(cg) << cg.message();
    ASSERT_TRUE((*cg)->activate());
    const std::string d = t.root() + "/sys.slice/emberd.service";
    EXPECT_EQ(t.read(d + "/emberd/cgroup.procs"), "4242");
    EXPECT_EQ(t.read(d + "/cgroup.subtree_control"), "+memory +cpu +pids");
    {
        auto w = (*cg)->create("worker-1", {64ull << 20, 1.5, 100});
        ASSERT_TRUE(w) << w.message();
        EXPECT_EQ((*w)->dirs(), std::vector<std::string>{d + "/worker-1"});
        EXPECT_EQ(t.read(d + "/worker-1/memory.max"), "67108864");
        EXPECT_EQ(t.read(d + "/worker-1/cpu.max"), "150000 100000");
        EXPECT_EQ(t.read(d + "/worker-1/pids.max"), "100");
        ASSERT_TRUE((*w)->add(1234));
        EXPECT_EQ(t.read(d + "/worker-1/cgroup.procs"), "1234");
        for (const auto& p : changed(before, t.listing())) {
            const std::string base = "/sys.slice/emberd.service/";
            EXPECT_TRUE(p == base + "cgroup.subtree_control" || p.rfind(base + "emberd", 0) == 0 ||
                        p.rfind(base + "worker-1", 0) == 0)
                << "written outside Ember's cgroups: " << p;
        }
    }
    const auto after = t.listing();
    EXPECT_EQ(after.count("/sys.slice/emberd.service/worker-1"), 0u) << "not removed";
}

TEST(CgroupCreate, V1WritesEachLimitInItsHierarchy) {
    FakeTree t;
    make_v1(t, true);
    for (const char* c : {"/memory/ember", "/cpu/ember", "/pids/ember"}) t.cgroup(c);
    t.cgroup("/memory/process_api/e2c0", "1\n");
    const auto before = t.listing();
    auto cg = Cgroups::detect("/ember", t.host(kHostManagedV1));
    ASSERT_TRUE(cg) << cg.message();
    ASSERT_TRUE((*cg)->activate());
    {
        auto w = (*cg)->create("worker-7", {1ull << 30, 0.5, 64});
        ASSERT_TRUE(w) << w.message();
        EXPECT_EQ(t.read(t.root() + "/memory/ember/worker-7/memory.limit_in_bytes"), "1073741824");
        EXPECT_EQ(t.read(t.root() + "/cpu/ember/worker-7/cpu.cfs_period_us"), "100000");
        EXPECT_EQ(t.read(t.root() + "/cpu/ember/worker-7/cpu.cfs_quota_us"), "50000");
        EXPECT_EQ(t.read(t.root() + "/pids/ember/worker-7/pids.max"), "64");
        ASSERT_TRUE((*w)->add(99));
        for (const char* c : {"memory", "cpu", "pids"})
            EXPECT_EQ(t.read(t.root() + "/" + c + "/ember/worker-7/cgroup.procs"), "99");
        for (const auto& p : changed(before, t.listing()))
            EXPECT_NE(p.find("/ember/worker-7"), std::string::npos)
                << "written outside Ember's cgroups: " << p;
    }
    EXPECT_TRUE(changed(before, t.listing()).empty()) << "not removed";
}

TEST(CgroupCreate, NoLimitsWritesNoLimitFiles) {
    FakeTree t;
    make_v2(t, "/ember");
    auto cg = Cgroups::detect("/ember", t.host("0::/\n"));
    ASSERT_TRUE(cg);
    auto w = (*cg)->create("w", {});
    ASSERT_TRUE(w) << w.message();
    const auto l = t.listing();
    EXPECT_EQ(
        l.count("/ember/w/memory.max") + l.count("/ember/w/cpu.max") + l.count("/ember/w/pids.max"),
        0u);
}

TEST(CgroupCreate, AnExistingCgroupOfTheSameNameIsLeftAlone) {
    FakeTree t;
    make_v2(t, "/ember");
    t.cgroup("/ember/worker-1", "555\n");
    auto cg = Cgroups::detect("/ember", t.host("0::/\n"));
    ASSERT_TRUE(cg);
    const auto before = t.listing();
    auto w = (*cg)->create("worker-1", {1 << 20, 0, 0});
    ASSERT_FALSE(w);
    EXPECT_NE(w.message().find("exists already"), std::string::npos) << w.message();
    EXPECT_TRUE(changed(before, t.listing()).empty());
}

TEST(CgroupCreate, NamesThatLeaveTheDelegatedCgroupAreRefused) {
    FakeTree t;
    make_v2(t, "/ember");
    auto cg = Cgroups::detect("/ember", t.host("0::/\n"));
    ASSERT_TRUE(cg);
    for (const std::string& n : std::vector<std::string>{"", "..", "../x", "a/b", "emberd",
                                                         ".hidden", std::string(65, 'a')})
        EXPECT_FALSE((*cg)->create(n, {})) << n;
}

TEST(CgroupCreate, OffRefusesToCreate) {
    FakeTree t;
    make_v2(t, "/ember");
    auto cg = Cgroups::detect("off", t.host("0::/ember\n"));
    ASSERT_TRUE(cg);
    EXPECT_FALSE((*cg)->create("w", {}));
}

TEST(CgroupRemove, BusyCgroupIsRetriedThenReported) {
    FakeTree t;
    make_v2(t, "/ember");
    CgroupHost h = t.host("0::/\n");
    int busy = 3;
    auto plain = h.rmdir;
    h.rmdir = [&busy, plain](const char* p) {
        if (busy-- > 0) return errno = EBUSY, -1;
        return plain(p);
    };
    auto cg = Cgroups::detect("/ember", h);
    ASSERT_TRUE(cg);
    auto w = (*cg)->create("w", {});
    ASSERT_TRUE(w);
    EXPECT_TRUE((*w)->remove(1000));
    EXPECT_EQ(t.listing().count("/ember/w"), 0u);
    busy = 1 << 30;
    auto w2 = (*cg)->create("w2", {});
    ASSERT_TRUE(w2);
    auto st = (*w2)->remove(20);
    EXPECT_FALSE(st);
    EXPECT_NE(st.message().find("w2"), std::string::npos) << st.message();
    busy = 0;
}

TEST(CgroupLimitsText, DescribesEachLimit) {
    EXPECT_EQ(describe_limits({}), "no limits");
    EXPECT_EQ(describe_limits({2ull << 30, 1.5, 4096}), "memory 2G, cpus 1.5, pids 4096");
}

// A real delegated cgroup (EMBER_TEST_CGROUP=PATH, as for --cgroup): a child
// that allocates past its memory limit is killed, and one that forks past
// its pids limit is refused.
class RealCgroup : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* p = getenv("EMBER_TEST_CGROUP");
        if (!p || !*p)
            GTEST_SKIP() << "\n*** no delegated cgroup: set EMBER_TEST_CGROUP=PATH (as for "
                            "emberd --cgroup) to run the real cgroup tests ***\n";
        auto cg = Cgroups::detect(p);
        ASSERT_TRUE(cg) << cg.message();
        ASSERT_TRUE((*cg)->on()) << (*cg)->describe();
        ASSERT_TRUE((*cg)->activate());
        cg_ = *cg;
    }
    // Forks a child that waits until it is in cgroup c, then runs body.
    static pid_t spawn_in(Cgroup& c, int (*body)()) {
        int p[2];
        if (pipe(p) != 0) return -1;
        const pid_t pid = fork();
        if (pid == 0) {
            char x;
            close(p[1]);
            if (read(p[0], &x, 1) != 1) _exit(3);
            _exit(body());
        }
        close(p[0]);
        const bool added = static_cast<bool>(c.add(pid));
        (void)!write(p[1], "x", 1);
        close(p[1]);
        if (!added) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
            return -1;
        }
        return pid;
    }
    std::shared_ptr<Cgroups> cg_;
};

TEST_F(RealCgroup, AllocatingPastTheMemoryLimitKillsTheProcess) {
    auto c = cg_->create("test-mem-" + std::to_string(getpid()), {32ull << 20, 0, 0});
    ASSERT_TRUE(c) << c.message();
    const pid_t pid = spawn_in(**c, [] {
        const size_t n = 256ull << 20;
        auto* m = static_cast<char*>(
            mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (m == MAP_FAILED) return 4;
        for (size_t i = 0; i < n; i += 4096) m[i] = 1;
        return 0;
    });
    ASSERT_GT(pid, 0);
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
        << "status " << st << " (swap can hold it: run without swap)";
}

TEST_F(RealCgroup, ForkingPastThePidsLimitFails) {
    auto c = cg_->create("test-pids-" + std::to_string(getpid()), {0, 0, 4});
    ASSERT_TRUE(c) << c.message();
    const pid_t pid = spawn_in(**c, [] {
        int refused = 0;
        pid_t kids[16];
        int n = 0;
        for (int i = 0; i < 16; ++i) {
            const pid_t k = fork();
            if (k == 0) {
                pause();
                _exit(0);
            }
            if (k < 0)
                ++refused;
            else
                kids[n++] = k;
        }
        for (int i = 0; i < n; ++i) kill(kids[i], SIGKILL);
        while (wait(nullptr) > 0) {
        }
        return refused > 0 && n <= 3 ? 0 : 1;
    });
    ASSERT_GT(pid, 0);
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
}

}  // namespace
}  // namespace ember::platform
