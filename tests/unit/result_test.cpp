#include "common/result.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace ember {
namespace {

TEST(StatusTest, OkHasCodeOkAndNoMessage) {
    const Status s = Status::ok();
    EXPECT_TRUE(s.is_ok());
    EXPECT_EQ(s.code(), Code::kOk);
    EXPECT_EQ(s.message(), "");
}

TEST(StatusTest, NamedConstructorsCarryTheirCode) {
    EXPECT_EQ(Status::invalid_argument("x").code(), Code::kInvalidArgument);
    EXPECT_EQ(Status::not_found("x").code(), Code::kNotFound);
    EXPECT_EQ(Status::corruption("x").code(), Code::kCorruption);
    EXPECT_EQ(Status::unsupported("x").code(), Code::kUnsupported);
    EXPECT_EQ(Status::internal("x").code(), Code::kInternal);
    EXPECT_FALSE(Status::internal("x").is_ok());
}

TEST(StatusTest, FromErrnoMapsEnoentToNotFound) {
    errno = ENOENT;
    const Status s = Status::from_errno("open /x");
    EXPECT_EQ(s.code(), Code::kNotFound);
    EXPECT_EQ(s.message(), "open /x: No such file or directory");
}

TEST(StatusTest, FromErrnoTreatsEinvalAsInternalNotBadInput) {
    // An ioctl that rejects Ember's own arguments is Ember's failure.
    EXPECT_EQ(Status::from_errno("KVM_SET_SREGS", EINVAL).code(), Code::kInternal);
    EXPECT_EQ(Status::from_errno("KVM_RUN", EFAULT).code(), Code::kInternal);
}

TEST(StatusTest, FromErrnoMapsLimitsAndBusyResources) {
    EXPECT_EQ(Status::from_errno("mmap", ENOMEM).code(), Code::kResourceExhausted);
    EXPECT_EQ(Status::from_errno("accept", EMFILE).code(), Code::kResourceExhausted);
    EXPECT_EQ(Status::from_errno("bind", EADDRINUSE).code(), Code::kConflict);
    EXPECT_EQ(Status::from_errno("connect", ECONNREFUSED).code(), Code::kUnavailable);
}

TEST(StatusTest, CodeNamesAreTheApiStrings) {
    EXPECT_STREQ(code_name(Code::kInvalidArgument), "invalid_argument");
    EXPECT_STREQ(code_name(Code::kNotFound), "not_found");
    EXPECT_STREQ(code_name(Code::kConflict), "conflict");
    EXPECT_STREQ(code_name(Code::kInternal), "internal");
}

TEST(ResultTest, CodeOfAValueIsOk) {
    Result<int> r = 3;
    EXPECT_EQ(r.code(), Code::kOk);
    Result<int> e = Status::not_found("no");
    EXPECT_EQ(e.code(), Code::kNotFound);
}

}  // namespace
}  // namespace ember
