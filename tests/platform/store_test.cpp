#include "platform/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace ember::platform {
namespace {

ServiceRecord record(const std::string& name, uint64_t gen) {
    ServiceRecord r;
    r.spec.name = name;
    r.spec.image = std::string(64, 'b');
    r.spec.env = {"A=1"};
    r.generation = gen;
    r.created_at = 100;
    r.updated_at = 200;
    return r;
}

TEST(Store, ServicesAndImagesSurviveReopening) {
    ScratchDir dir;
    const std::string db = dir.path() + "/state.db";
    {
        auto s = Store::open(db);
        ASSERT_TRUE(s) << s.message();
        ASSERT_TRUE((*s)->put_image({std::string(64, 'b'), 1234, 7}));
        ASSERT_TRUE((*s)->put_service(record("one", 1)));
        ASSERT_TRUE((*s)->put_service(record("two", 3)));
        ASSERT_TRUE((*s)->put_service(record("one", 2)));  // redeploy: replaced
    }
    auto s = Store::open(db);
    ASSERT_TRUE(s) << s.message();
    auto list = (*s)->list_services();
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].spec.name, "one");
    EXPECT_EQ((*list)[0].generation, 2u);
    EXPECT_EQ((*list)[0].created_at, 100);
    EXPECT_EQ((*list)[0].spec.env, std::vector<std::string>{"A=1"});
    auto img = (*s)->get_image(std::string(64, 'b'));
    ASSERT_TRUE(img && img->has_value());
    EXPECT_EQ((*img)->size, 1234u);
    ASSERT_TRUE((*s)->delete_service("one"));
    auto gone = (*s)->get_service("one");
    ASSERT_TRUE(gone);
    EXPECT_FALSE(gone->has_value());
    ASSERT_TRUE((*s)->delete_image(std::string(64, 'b')));
    EXPECT_TRUE((*s)->list_images()->empty());
}

TEST(Store, ForeignDatabaseIsRefused) {
    ScratchDir dir;
    const std::string db = dir.path() + "/other.db";
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    sqlite3_exec(h, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
    sqlite3_close(h);
    auto s = Store::open(db);
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("not an Ember database"), std::string::npos) << s.message();
}

TEST(Store, NewerSchemaIsRefused) {
    ScratchDir dir;
    const std::string db = dir.path() + "/state.db";
    { ASSERT_TRUE(Store::open(db)); }
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    sqlite3_exec(h, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
    sqlite3_close(h);
    auto s = Store::open(db);
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("newer"), std::string::npos) << s.message();
}

TEST(Store, CorruptStoredSpecIsReportedNotTrusted) {
    ScratchDir dir;
    const std::string db = dir.path() + "/state.db";
    { ASSERT_TRUE((*Store::open(db))->put_service(record("svc", 1))); }
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    sqlite3_exec(h, "UPDATE services SET spec = '{\"image\": 5}'", nullptr, nullptr, nullptr);
    sqlite3_close(h);
    auto list = (*Store::open(db))->list_services();
    ASSERT_FALSE(list);
    EXPECT_NE(list.message().find("stored spec is invalid"), std::string::npos) << list.message();
}

TEST(Store, NotADatabaseFileIsAnError) {
    ScratchDir dir;
    const std::string db = dir.path() + "/junk.db";
    write_text(db, std::string(8192, 'j'));
    EXPECT_FALSE(Store::open(db));
}

}  // namespace
}  // namespace ember::platform
