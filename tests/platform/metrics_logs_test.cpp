#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "platform/log_hub.h"
#include "platform/metrics.h"
#include "platform/proc_memory.h"

namespace ember::platform {
namespace {

TEST(Metrics, CountersHistogramsAndGaugesRender) {
    Metrics m;
    m.describe("reqs_total", "counter", "Requests");
    m.counter("reqs_total", {{"service", "a"}, {"code", "200"}}).inc(3);
    m.histogram("lat_seconds", {{"stage", "restore"}}).observe(0.0007);
    m.histogram("lat_seconds", {{"stage", "restore"}}).observe(3.0);
    m.add_collector([](std::vector<GaugeSample>* out) {
        out->push_back({"live", {{"s", "x"}}, 2});
    });
    const std::string text = m.render();
    EXPECT_NE(text.find("# HELP reqs_total Requests\n# TYPE reqs_total counter\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("reqs_total{service=\"a\",code=\"200\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("lat_seconds_bucket{stage=\"restore\",le=\"0.0005\"} 0\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("lat_seconds_bucket{stage=\"restore\",le=\"0.001\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("lat_seconds_bucket{stage=\"restore\",le=\"+Inf\"} 2\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("lat_seconds_count{stage=\"restore\"} 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("lat_seconds_sum{stage=\"restore\"} 3.0007\n"), std::string::npos) << text;
    EXPECT_NE(text.find("# TYPE live gauge\nlive{s=\"x\"} 2\n"), std::string::npos) << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
    EXPECT_EQ(render_labels({{"a", "x\"y\\z\n"}}), "{a=\"x\\\"y\\\\z\\n\"}");
    EXPECT_EQ(render_labels({}), "");
}

TEST(LogHub, LinesAreCutFromChunksPerStream) {
    LogHub hub;
    LineAssembler a(hub, "svc", "i-1");
    a.feed(1, "hel", 3);
    a.feed(2, "err\n", 4);
    a.feed(1, "lo\nwor", 6);
    a.flush();
    auto lines = hub.read("svc", 0, 100);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].text, "err");
    EXPECT_EQ(lines[0].stream, "stderr");
    EXPECT_EQ(lines[1].text, "hello");
    EXPECT_EQ(lines[2].text, "wor");
    EXPECT_EQ(lines[2].instance, "i-1");
}

TEST(LogHub, OverlongLinesAreSplit) {
    LogHub hub;
    LineAssembler a(hub, "svc", "i-1");
    const std::string big(LineAssembler::kMaxLine * 2 + 10, 'x');
    a.feed(1, big.data(), big.size());
    a.flush();
    auto lines = hub.read("svc", 0, 100);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].text.size(), LineAssembler::kMaxLine);
}

TEST(LogHub, InvalidUtf8IsReplacedAndValidUtf8IsKept) {
    const std::string r = "\xEF\xBF\xBD";  // U+FFFD
    EXPECT_EQ(valid_utf8("plain ascii"), "plain ascii");
    EXPECT_EQ(valid_utf8("h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\xA5 \xF4\x8F\xBF\xBF"),
              "h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\xA5 \xF4\x8F\xBF\xBF");
    EXPECT_EQ(valid_utf8("\xFF"), r);
    EXPECT_EQ(valid_utf8(std::string("a\x80") + "b"), "a" + r + "b");  // stray continuation
    EXPECT_EQ(valid_utf8("\xC3"), r);                                  // truncated at the end
    EXPECT_EQ(valid_utf8("\xE2\x82x"), r + "x");                       // truncated: one replacement
    EXPECT_EQ(valid_utf8("\xC0\xAF"), r + r);                          // overlong '/'
    EXPECT_EQ(valid_utf8("\xE0\x80\xAF"), r + r + r);                  // overlong
    EXPECT_EQ(valid_utf8("\xED\xA0\x80"), r + r + r);                  // surrogate U+D800
    EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80"), r + r + r + r);          // above U+10FFFF
    EXPECT_EQ(valid_utf8(std::string("\0x", 2)), std::string("\0x", 2));
    LogHub hub;
    hub.append("svc", "i-1", "stdout", "bad \xFF");
    EXPECT_EQ(hub.read("svc", 0, 10)[0].text, "bad " + r);
}

TEST(LogHub, ReadsAfterASequenceNumberAndFiltersByInstance) {
    LogHub hub;
    hub.append("svc", "i-1", "stdout", "a");
    hub.append("other", "i-9", "stdout", "not mine");
    hub.append("svc", "i-2", "stdout", "b");
    hub.append("svc", "i-1", "stdout", "c");
    auto all = hub.read("svc", 0, 100);
    ASSERT_EQ(all.size(), 3u);
    auto after = hub.read("svc", all[0].seq, 100);
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0].text, "b");
    auto one = hub.read("svc", 0, 100, "i-1");
    ASSERT_EQ(one.size(), 2u);
    EXPECT_EQ(one[1].text, "c");
    EXPECT_TRUE(hub.read("nobody", 0, 100).empty());
}

TEST(LogHub, OldLinesAreDroppedBeyondTheByteBound) {
    LogHub hub(4096);
    for (int i = 0; i < 1000; ++i) hub.append("svc", "i-1", "stdout", "line " + std::to_string(i));
    auto lines = hub.read("svc", 0, 100000);
    ASSERT_FALSE(lines.empty());
    EXPECT_LT(lines.size(), 200u);
    EXPECT_EQ(lines.back().text, "line 999");
}

// Memory of instances in a VM worker is read from the worker's smaps: here a
// child that wrote 8 MiB of a 16 MiB mapping.
TEST(ProcMemory, CountsAnonymousMemoryInAnotherProcess) {
    const size_t size = 16 << 20;
    auto* p = static_cast<char*>(
        mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(p, MAP_FAILED);
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    if (child == 0) {
        std::memset(p, 1, size / 2);
        char c = 1;
        (void)!write(ready[1], &c, 1);
        pause();
        _exit(0);
    }
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    const MemRange r{reinterpret_cast<uintptr_t>(p), size, child};
    const auto in_child = anonymous_bytes({r, {r.start, r.size, 0}});
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    munmap(p, size);
    EXPECT_GE(in_child[0], size / 2);
    EXPECT_LT(in_child[0], size);
    EXPECT_EQ(in_child[1], 0u) << "this process never touched it";
}

}  // namespace
}  // namespace ember::platform
