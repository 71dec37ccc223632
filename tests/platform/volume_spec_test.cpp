// The "volumes" field of a service spec and the volume store's rules (one
// writer; in use cannot be removed), without KVM.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "platform/service_spec.h"
#include "platform/store.h"
#include "platform/volume_store.h"

namespace ember::platform {
namespace {

using nlohmann::json;

const std::string kSha(64, 'a');

Result<ServiceSpec> parse(const std::string& volumes, const std::string& extra = "") {
    return spec_from_json(
        json::parse(R"({"image": ")" + kSha + R"(", "volumes": )" + volumes + extra + "}"), "svc");
}

TEST(VolumeSpec, WritableVolumeMakesOneInstanceTheDefault) {
    auto s = parse(R"([{"name": "data", "path": "/data"}])");
    ASSERT_TRUE(s) << s.message();
    ASSERT_EQ(s->volumes.size(), 1u);
    EXPECT_FALSE(s->volumes[0].readonly);
    EXPECT_EQ(s->max_instances, 1u);
    EXPECT_EQ(spec_to_json(*s).at("volumes").at(0).at("path"), "/data");
    auto ro = parse(R"([{"name": "data", "path": "/data", "readonly": true}])");
    ASSERT_TRUE(ro) << ro.message();
    EXPECT_EQ(ro->max_instances, 16u);
}

TEST(VolumeSpec, AWriterWithSeveralInstancesIsRefused) {
    auto s = parse(R"([{"name": "data", "path": "/data"}])", R"(, "max_instances": 2)");
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("one writer"), std::string::npos) << s.message();
    // With isolation request the mount is read-only: any number.
    EXPECT_TRUE(parse(R"([{"name": "data", "path": "/data"}])",
                      R"(, "max_instances": 4, "isolation": "request")"));
}

TEST(VolumeSpec, BadMountsAreRefusedNamingTheField) {
    for (const char* v :
         {R"([{"name": "data", "path": "data"}])", R"([{"name": "data", "path": "/proc/x"}])",
          R"([{"name": "data", "path": "/a/../b"}])", R"([{"name": "Bad_Name", "path": "/data"}])",
          R"([{"name": "data", "path": "/data", "readonly": "yes"}])",
          R"([{"name": "data", "path": "/data", "size": 1}])",
          R"([{"name": "a", "path": "/d"}, {"name": "a", "path": "/e"}])",
          R"([{"name": "a", "path": "/d"}, {"name": "b", "path": "/d/e"}])",
          R"({"name": "data"})"}) {
        auto s = parse(v);
        EXPECT_FALSE(s) << v;
        if (!s) {
            EXPECT_EQ(s.code(), Code::kInvalidArgument) << v;
        }
    }
}

TEST(VolumeSpec, PatchCannotChangeIsolationOfAServiceWithVolumes) {
    auto s = parse(R"([{"name": "data", "path": "/data"}])");
    ASSERT_TRUE(s);
    EXPECT_FALSE(apply_patch(&*s, json::parse(R"({"isolation": "request"})")));
    EXPECT_TRUE(apply_patch(&*s, json::parse(R"({"idle_timeout_ms": 5})")));
}

TEST(VolumeStore, OneWriterAndNoRemovalInUse) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("ember-volstore-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        auto store = Store::open((dir / "state.db").string());
        ASSERT_TRUE(store) << store.message();
        auto vols =
            VolumeStore::open((dir / "state.db").string(), (dir / "volumes").string(), -1, -1);
        ASSERT_TRUE(vols) << vols.message();
        ASSERT_TRUE((*vols)->create("data", 1 << 20));
        EXPECT_EQ((*vols)->create("data", 1 << 20).code(), Code::kConflict);
        EXPECT_EQ((*vols)->create("huge", 64ull << 30).code(), Code::kInvalidArgument);
        EXPECT_TRUE(std::filesystem::is_directory(dir / "volumes" / "data"));

        ServiceRecord writer;
        writer.spec = *parse(R"([{"name": "data", "path": "/data"}])");
        writer.spec.name = "writer";
        ServiceSpec second = writer.spec;
        second.name = "second";
        EXPECT_EQ((*vols)->check_spec(second, {writer}).code(), Code::kConflict);
        second.volumes[0].readonly = true;
        EXPECT_TRUE((*vols)->check_spec(second, {writer}));
        second.volumes[0].name = "missing";
        EXPECT_EQ((*vols)->check_spec(second, {writer}).code(), Code::kNotFound);

        EXPECT_EQ((*vols)->remove("data", {writer}).code(), Code::kConflict);
        EXPECT_TRUE((*vols)->remove("data", {}));
        EXPECT_FALSE(std::filesystem::exists(dir / "volumes" / "data"));
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ember::platform
