#include "platform/service_spec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ember::platform {
namespace {

using nlohmann::json;

const std::string kSha(64, 'a');

Result<ServiceSpec> parse(const std::string& body, const std::string& name = "svc") {
    return spec_from_json(json::parse(body), name);
}

TEST(ServiceSpec, MinimalSpecGetsDefaults) {
    auto s = parse(R"({"image": ")" + kSha + R"("})");
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(s->name, "svc");
    EXPECT_EQ(s->port, 8080);
    EXPECT_EQ(s->memory_mb, 64u);
    EXPECT_EQ(s->max_instances, 16u);
    EXPECT_EQ(s->concurrency, 8u);
    EXPECT_EQ(s->isolation, Isolation::kInstance);
    EXPECT_EQ(s->queue_timeout_ms, 10000u);
}

TEST(ServiceSpec, QueueTimeoutDefaultsToAtMostTheRequestTimeout) {
    auto s = parse(R"({"image": ")" + kSha + R"(", "timeout_ms": 2000})");
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(s->queue_timeout_ms, 2000u);
}

TEST(ServiceSpec, FullSpecRoundTripsThroughJson) {
    auto s =
        parse(R"({"image": ")" + kSha + R"(", "program": "srv", "port": 80, "args": ["80", "-v"],
        "env": {"A": "1"}, "files": [{"path": "//etc//x.conf", "image": ")" +
              kSha + R"(", "mode": 384}],
        "egress": ["example.com:443"], "memory_mb": 128, "min_instances": 1, "max_instances": 4,
        "concurrency": 2, "idle_timeout_ms": 0, "timeout_ms": 5000, "isolation": "instance",
        "queue_size": 0, "queue_timeout_ms": 100})");
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(s->files[0].path, "/etc/x.conf");
    EXPECT_EQ(s->files[0].mode, 0600u);
    EXPECT_EQ(s->env, std::vector<std::string>{"A=1"});
    auto again = spec_from_json(spec_to_json(*s), "svc");
    ASSERT_TRUE(again) << again.message();
    EXPECT_FALSE(needs_new_snapshot(*s, *again));
    EXPECT_EQ(spec_to_json(*s), spec_to_json(*again));
}

TEST(ServiceSpec, UnknownFieldsAreNamed) {
    auto s = parse(R"({"image": ")" + kSha + R"(", "replicas": 3})");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.message(), "unknown field 'replicas'");
}

TEST(ServiceSpec, WrongTypesAreNamed) {
    struct Case {
        const char* field;
        const char* value;
        const char* message;
    } cases[] = {
        {"port", "\"80\"", "field 'port' must be a non-negative integer"},
        {"port", "70000", "field 'port' must be an integer between 1 and 65535, got 70000"},
        {"port", "-1", "field 'port' must be an integer between 1 and 65535, got -1"},
        {"port", "8.5", "field 'port' must be an integer between 1 and 65535, got 8.5"},
        {"args", "\"x\"", "field 'args' must be an array of strings"},
        {"args", "[1]", "field 'args[0]' must be a string"},
        {"isolation", "\"vm\"", "field 'isolation' must be \"instance\" or \"request\", got 'vm'"},
        {"memory_mb", "4", "field 'memory_mb' must be an integer between 8 and 8192, got 4"},
        {"concurrency", "0", "field 'concurrency' must be an integer between 1 and 1024, got 0"},
        {"env", "[\"NOEQUALS\"]", "field 'env': expected K=V, got 'NOEQUALS'"},
        {"program", "\"../x\"", "field 'program' must be a file name (no '/', not '.' or '..')"},
        {"egress", "[\"nohostport\"]", "field 'egress': expected HOST:PORT, got 'nohostport'"},
    };
    for (const auto& c : cases) {
        auto s = parse(R"({"image": ")" + kSha + R"(", ")" + c.field + "\": " + c.value + "}");
        ASSERT_FALSE(s) << c.field << "=" << c.value;
        EXPECT_EQ(s.message(), c.message);
    }
}

// Every numeric field, full spec and PATCH: JSON numbers that are not
// integers in the field's range (negative, fractional, beyond 2^64, which
// nlohmann holds as a double) are rejected with the field and its range.
TEST(ServiceSpec, NumbersOutOfRangeOrNotIntegersAreRejectedForEveryNumericField) {
    const char* fields[] = {"port",           "memory_mb",   "min_instances",
                            "max_instances",  "concurrency", "idle_timeout_ms",
                            "timeout_ms",     "queue_size",  "queue_timeout_ms",
                            "spare_instances"};
    const char* values[] = {"-1",
                            "0.5",
                            "1e300",
                            "-1e300",
                            "18446744073709551616",
                            "18446744073709551615",
                            "-9223372036854775808",
                            "1.0000001e3"};
    for (const char* f : fields) {
        for (const char* v : values) {
            const std::string body =
                std::string(R"({"image": ")") + kSha + R"(", ")" + f + "\": " + v + "}";
            auto s = parse(body);
            ASSERT_FALSE(s) << f << "=" << v;
            EXPECT_EQ(
                s.message().rfind(std::string("field '") + f + "' must be an integer between ", 0),
                0u)
                << s.message();
        }
    }
    auto file = parse(R"({"image": ")" + kSha + R"(", "files": [{"path": "/a", "image": ")" + kSha +
                      R"(", "mode": 1e20}]})");
    ASSERT_FALSE(file);
    EXPECT_EQ(file.message(),
              "field 'files[0].mode' must be an integer between 0 and 4095, got 1e+20");
    auto s = parse(R"({"image": ")" + kSha + R"("})");
    ASSERT_TRUE(s);
    for (const char* f : {"min_instances", "max_instances", "concurrency", "idle_timeout_ms",
                          "timeout_ms", "queue_size", "queue_timeout_ms", "spare_instances"}) {
        auto st = apply_patch(&*s, json::parse(std::string("{\"") + f + "\": 1e19}"));
        ASSERT_FALSE(st) << f;
        EXPECT_NE(st.message().find("must be an integer between"), std::string::npos)
            << st.message();
    }
}

TEST(ServiceSpec, ImageIsRequiredAndMustBeASha256) {
    EXPECT_FALSE(parse("{}"));
    auto s = parse(R"({"image": "ABC"})");
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("sha256"), std::string::npos);
}

TEST(ServiceSpec, CrossFieldRules) {
    auto s = parse(R"({"image": ")" + kSha + R"(", "min_instances": 3, "max_instances": 2})");
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("larger than max_instances"), std::string::npos);
    auto q = parse(R"({"image": ")" + kSha + R"(", "timeout_ms": 100, "queue_timeout_ms": 200})");
    ASSERT_FALSE(q);
    auto iso = parse(R"({"image": ")" + kSha + R"(", "isolation": "request", "min_instances": 1})");
    ASSERT_FALSE(iso);
    auto spare = parse(R"({"image": ")" + kSha + R"(", "spare_instances": 1})");
    ASSERT_FALSE(spare);
    EXPECT_NE(spare.message().find("needs isolation"), std::string::npos);
    EXPECT_TRUE(
        parse(R"({"image": ")" + kSha + R"(", "spare_instances": 1, "isolation": "request"})"));
    auto clash = parse(R"({"image": ")" + kSha +
                       R"(", "program": "app", "files": [{"path": "/bin/app", "image": ")" + kSha +
                       R"("}]})");
    ASSERT_FALSE(clash);
    EXPECT_NE(clash.message().find("where the program goes"), std::string::npos);
}

TEST(ServiceSpec, ScaleToZeroDefaultsToDiscardAndStatefulRefusesPerRequestIsolation) {
    auto s = parse(R"({"image": ")" + kSha + R"("})");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->scale_to_zero, ScaleToZero::kDiscard);
    EXPECT_EQ(spec_to_json(*s).at("scale_to_zero"), "discard");
    auto st = parse(R"({"image": ")" + kSha + R"(", "scale_to_zero": "stateful"})");
    ASSERT_TRUE(st);
    EXPECT_EQ(st->scale_to_zero, ScaleToZero::kStateful);
    auto bad = parse(R"({"image": ")" + kSha + R"(", "scale_to_zero": "keep"})");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("\"discard\" or \"stateful\""), std::string::npos);
    auto both = parse(R"({"image": ")" + kSha +
                      R"(", "scale_to_zero": "stateful", "isolation": "request"})");
    ASSERT_FALSE(both);
    EXPECT_NE(both.message().find("cannot be combined with isolation"), std::string::npos)
        << both.message();
    // PATCH: a runtime setting, with the same rule.
    EXPECT_TRUE(apply_patch(&*s, json::parse(R"({"scale_to_zero": "stateful"})")));
    EXPECT_EQ(s->scale_to_zero, ScaleToZero::kStateful);
    EXPECT_FALSE(apply_patch(&*s, json::parse(R"({"isolation": "request"})")));
    EXPECT_EQ(s->isolation, Isolation::kInstance);
}

TEST(ServiceSpec, NameInBodyMustMatchTheUrl) {
    auto s = parse(R"({"name": "other", "image": ")" + kSha + R"("})", "svc");
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("does not match"), std::string::npos);
}

TEST(ServiceSpec, NamesAreDnsLabels) {
    for (const char* ok : {"a", "hello", "a-b", "x1", "0"}) EXPECT_TRUE(validate_name(ok)) << ok;
    for (const char* bad : {"", "A", "a_b", "-a", "a-", "a.b", "a/b", "é"})
        EXPECT_FALSE(validate_name(bad)) << bad;
    EXPECT_TRUE(validate_name(std::string(63, 'a')));
    EXPECT_FALSE(validate_name(std::string(64, 'a')));
}

TEST(ServiceSpec, GuestPathsAreNormalisedAndDotDotIsRejected) {
    EXPECT_EQ(*normalize_guest_path("etc/x"), "/etc/x");
    EXPECT_EQ(*normalize_guest_path("//etc///x/"), "/etc/x");
    for (const char* bad : {"", "/", "..", "../x", "/a/../b", "/a/./b", "a/.."})
        EXPECT_FALSE(normalize_guest_path(bad)) << bad;
    EXPECT_FALSE(normalize_guest_path(std::string("a\0b", 3)));
    EXPECT_FALSE(normalize_guest_path("/" + std::string(300, 'x')));
}

TEST(ServiceSpec, DuplicateFilePathsAreRejected) {
    auto s = parse(R"({"image": ")" + kSha + R"(", "files": [{"path": "/a", "image": ")" + kSha +
                   R"("}, {"path": "a", "image": ")" + kSha + R"("}]})");
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("given twice"), std::string::npos);
}

TEST(ServiceSpec, PatchChangesRuntimeFieldsOnly) {
    auto s = parse(R"({"image": ")" + kSha + R"("})");
    ASSERT_TRUE(s);
    EXPECT_TRUE(apply_patch(&*s, json::parse(R"({"max_instances": 3, "idle_timeout_ms": 5})")));
    EXPECT_EQ(s->max_instances, 3u);
    auto st = apply_patch(&*s, json::parse(R"({"port": 81})"));
    ASSERT_FALSE(st);
    EXPECT_NE(st.message().find("deploy again"), std::string::npos);
    EXPECT_FALSE(apply_patch(&*s, json::parse(R"({"bogus": 1})")));
    EXPECT_FALSE(apply_patch(&*s, json::parse(R"({"min_instances": 10})"))) << "min above max";
    EXPECT_EQ(s->max_instances, 3u) << "a rejected patch changes nothing";
}

TEST(ServiceSpec, SnapshotRelevantChangesAreDetected) {
    auto a = *parse(R"({"image": ")" + kSha + R"("})");
    auto b = a;
    b.max_instances = 1;
    EXPECT_FALSE(needs_new_snapshot(a, b));
    b.env.push_back("X=1");
    EXPECT_TRUE(needs_new_snapshot(a, b));
}

}  // namespace
}  // namespace ember::platform
