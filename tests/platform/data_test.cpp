// The data directory, the API token and the image store.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "platform/data_dir.h"
#include "platform/image_store.h"
#include "test_util.h"

namespace ember::platform {
namespace {

TEST(Sha256, KnownVectors) {
    EXPECT_EQ(sha256_hex("abc", 3),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("", 0),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ImageStore, BlobsAreNamedByTheirContent) {
    ScratchDir dir;
    ImageStore s(dir.path());
    auto sha = s.put("hello");
    ASSERT_TRUE(sha) << sha.message();
    EXPECT_EQ(*sha, sha256_hex("hello", 5));
    EXPECT_EQ(*s.put("hello"), *sha) << "idempotent";
    EXPECT_TRUE(s.exists(*sha));
    auto data = s.get(*sha, 100);
    ASSERT_TRUE(data);
    EXPECT_EQ(std::string(data->begin(), data->end()), "hello");
}

TEST(ImageStore, DamagedBlobIsDetectedOnRead) {
    ScratchDir dir;
    ImageStore s(dir.path());
    const std::string sha = *s.put("original");
    write_text(s.path_of(sha), "tampered");
    auto data = s.get(sha, 100);
    ASSERT_FALSE(data);
    EXPECT_NE(data.message().find("damaged"), std::string::npos) << data.message();
}

TEST(ImageStore, MissingOversizeAndBadNamesAreErrors) {
    ScratchDir dir;
    ImageStore s(dir.path());
    EXPECT_FALSE(s.get(std::string(64, 'c'), 100));
    const std::string sha = *s.put(std::string(1000, 'x'));
    EXPECT_FALSE(s.get(sha, 999));
    EXPECT_FALSE(s.get("../../etc/passwd", 100));
    EXPECT_FALSE(s.exists("../x"));
    EXPECT_TRUE(s.remove(sha));
    EXPECT_FALSE(s.exists(sha));
}

TEST(ImageStore, UnfinishedUploadsAreRemovedAndNothingElse) {
    ScratchDir dir;
    ImageStore store(dir.path());
    auto sha = store.put("kept");
    ASSERT_TRUE(sha);
    const std::string stale = dir.path() + "/" + std::string(64, 'c') + ".tmp.123.456";
    write_text(stale, "half an upload");
    write_text(dir.path() + "/notes.tmp.1", "not a temporary file of the store");
    EXPECT_EQ(store.remove_temp_files(), 1u);
    struct stat st;
    EXPECT_NE(::stat(stale.c_str(), &st), 0);
    EXPECT_EQ(::stat((dir.path() + "/notes.tmp.1").c_str(), &st), 0);
    EXPECT_TRUE(store.exists(*sha));
    EXPECT_EQ(store.remove_temp_files(), 0u);
}

TEST(ImageStore, AFailedWriteLeavesNoTemporaryFile) {
    ScratchDir dir;
    ImageStore store(dir.path());
    // A file size limit makes the write fail part-way (EFBIG, not SIGXFSZ).
    auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
    rlimit old;
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    rlimit small = old;
    small.rlim_cur = 4096;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    auto r = store.put(std::string(1 << 20, 'x'));
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);
    EXPECT_FALSE(r);
    EXPECT_EQ(store.remove_temp_files(), 0u) << "the failed write removed its temporary file";
}

TEST(DataDir, CreatesTheLayoutAndRefusesASecondDaemon) {
    ScratchDir dir;
    const std::string root = dir.path() + "/a/b";
    auto d = DataDir::open(root);
    ASSERT_TRUE(d) << d.message();
    struct stat st;
    EXPECT_EQ(::stat((root + "/images").c_str(), &st), 0);
    EXPECT_EQ(::stat((root + "/snapshots").c_str(), &st), 0);
    EXPECT_EQ(d->snapshot_path("svc", 3), root + "/snapshots/svc.3.snap");
    auto second = DataDir::open(root);
    ASSERT_FALSE(second);
    EXPECT_NE(second.message().find("in use by another emberd"), std::string::npos);
}

TEST(Token, CreatedPrivateAndStable) {
    ScratchDir dir;
    const std::string path = dir.path() + "/token";
    auto t1 = load_or_create_token(path);
    ASSERT_TRUE(t1) << t1.message();
    EXPECT_EQ(t1->size(), 64u);
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto t2 = load_or_create_token(path);
    ASSERT_TRUE(t2);
    EXPECT_EQ(*t1, *t2);
}

TEST(Token, ReadableByOthersIsRefused) {
    ScratchDir dir;
    const std::string path = dir.path() + "/token";
    ASSERT_TRUE(load_or_create_token(path));
    ::chmod(path.c_str(), 0644);
    auto t = load_or_create_token(path);
    ASSERT_FALSE(t);
    EXPECT_NE(t.message().find("chmod 600"), std::string::npos) << t.message();
}

TEST(Token, ShortTokenIsRefused) {
    ScratchDir dir;
    const std::string path = dir.path() + "/token";
    write_text(path, "abc\n");
    ::chmod(path.c_str(), 0600);
    EXPECT_FALSE(load_or_create_token(path));
}

TEST(Token, BearerHeaderMustMatchExactly) {
    const std::string tok = "0123456789abcdef0123";
    EXPECT_TRUE(bearer_matches("Bearer " + tok, tok));
    EXPECT_FALSE(bearer_matches("Bearer " + tok + "x", tok));
    EXPECT_FALSE(bearer_matches("Bearer " + tok.substr(1), tok));
    EXPECT_FALSE(bearer_matches("bearer " + tok, tok));
    EXPECT_FALSE(bearer_matches(tok, tok));
    EXPECT_FALSE(bearer_matches("", tok));
    EXPECT_FALSE(bearer_matches("Bearer ", ""));
}

}  // namespace
}  // namespace ember::platform
