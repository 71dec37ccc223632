// Per-thread seccomp filters (docs/security.md): in the VM worker and the
// gateway process, every thread that serves has loaded the filter of its
// kind on top of the process's. Seen from /proc, as an operator would: the
// thread's name says its kind, Seccomp_filters counts its filters. What each
// filter refuses is tests/unit/sandbox_thread_test.cpp's.
#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

int filters_of(const std::string& task_dir) {
    std::istringstream in(read_text(task_dir + "/status"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind("Seccomp_filters:", 0) == 0) return std::atoi(line.c_str() + 16);
    return -1;
}

struct Task {
    pid_t tid;
    std::string name;
    int filters;
};

std::vector<Task> tasks_of(pid_t pid) {
    std::vector<Task> out;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        const std::string t = dir + "/" + e->d_name;
        std::string name = read_text(t + "/comm");
        if (!name.empty() && name.back() == '\n') name.pop_back();
        out.push_back({static_cast<pid_t>(std::atol(e->d_name)), name, filters_of(t)});
    }
    ::closedir(d);
    return out;
}

std::string describe(const std::vector<Task>& tasks) {
    std::string s;
    for (const auto& t : tasks)
        s += std::to_string(t.tid) + " " + t.name + " filters=" + std::to_string(t.filters) + "\n";
    return s;
}

// Every thread named after a kind has two filters or more (the process's,
// its own; a thread started by one of its kind inherits one more).
std::map<std::string, int> kinds(const std::vector<Task>& tasks) {
    std::map<std::string, int> n;
    for (const auto& t : tasks)
        if (t.name.rfind("ember-", 0) == 0) {
            EXPECT_GE(t.filters, 2) << t.name << " " << t.tid;
            ++n[t.name];
        }
    return n;
}

TEST_F(E2eTest, WorkerAndGatewayThreadsRunUnderTheFilterOfTheirKind) {
    if (filters_of("/proc/self") < 0) GTEST_SKIP() << "no Seccomp_filters in /proc (kernel < 5.9)";
    deploy_app("threads");
    for (int i = 0; i < 3; ++i) ASSERT_EQ(d_->get("threads", "/count").status, 200);
    EXPECT_NE(d_->output().find("thread-filters=on(vm,io,channel)"), std::string::npos)
        << "the worker's start-up line names the thread filters";

    const pid_t worker = helper_pid(d_->pid(), "worker");
    ASSERT_GT(worker, 0);
    // The I/O thread takes its filter at its first wake-up after the sandbox.
    ASSERT_TRUE(eventually([&] { return kinds(tasks_of(worker)).count("ember-io") == 1; }, 3000))
        << describe(tasks_of(worker));
    auto tasks = tasks_of(worker);
    auto n = kinds(tasks);
    EXPECT_EQ(n["ember-channel"], 1) << describe(tasks);
    EXPECT_GE(n["ember-vm"], 4) << "the runner threads, at least\n" << describe(tasks);
    for (const auto& t : tasks) {
        if (t.tid == worker) {
            EXPECT_EQ(t.name, "ember-channel") << "the main thread reads the channel";
        }
    }

    const pid_t gateway = helper_pid(d_->pid(), "gateway");
    ASSERT_GT(gateway, 0);
    tasks = tasks_of(gateway);
    n = kinds(tasks);
    EXPECT_EQ(n["ember-channel"], 1) << describe(tasks);
    EXPECT_GE(n["ember-gateway"], 1) << describe(tasks);
    for (const auto& t : tasks) {
        EXPECT_EQ(t.name.rfind("ember-", 0), 0u) << "every gateway thread has a kind\n"
                                                 << describe(tasks);
    }
}

}  // namespace
}  // namespace ember::e2e
