// The Debian package closure of a program (vmm/dpkg_closure.h), from a
// made-up dpkg database.
#include "vmm/dpkg_closure.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ember {
namespace {

namespace fs = std::filesystem;

class DpkgClosureTest : public testing::Test {
  protected:
    void SetUp() override {
        admin_ = testing::TempDir() + "/ember_dpkg_" + std::to_string(getpid());
        fs::remove_all(admin_);
        fs::create_directories(admin_ + "/info");
    }
    void TearDown() override { fs::remove_all(admin_); }
    void write(const std::string& rel, const std::string& text) {
        std::ofstream(admin_ + "/" + rel) << text;
    }
    std::string admin_;
};

TEST_F(DpkgClosureTest, OwnerDependsAlternativesProvidesAndRecommends) {
    write("status",
          "Package: app\nStatus: install ok installed\nArchitecture: amd64\n"
          "Depends: missing | libb (>= 1), virt\nRecommends: extra\n\n"
          "Package: libb\nStatus: install ok installed\nArchitecture: amd64\n"
          "Pre-Depends: app\n\n"
          "Package: provider\nStatus: install ok installed\nArchitecture: all\n"
          "Provides: virt\n\n"
          "Package: extra\nStatus: install ok installed\nArchitecture: amd64\n\n"
          "Package: removed\nStatus: deinstall ok config-files\nArchitecture: amd64\n");
    write("info/app.list", "/.\n/usr\n/usr/bin\n/usr/bin/ember-test-app\n/usr/share/doc/app\n");
    write("info/libb:amd64.list", "/usr/lib/libb.so\n/usr/bin\n");
    write("info/provider.list", "/usr/share/provider/data\n");
    write("info/extra.list", "/usr/share/man/man1/x.1\n/usr/lib/extra.so\n");
    write("info/removed.list", "/usr/lib/removed.so\n");
    auto c = dpkg_closure("/usr/bin/ember-test-app", admin_);
    ASSERT_TRUE(c.is_ok()) << c.message();
    EXPECT_EQ(c->packages, (std::vector<std::string>{"app", "libb", "provider", "extra"}));
    EXPECT_EQ(c->paths, (std::vector<std::string>{"/usr", "/usr/bin", "/usr/bin/ember-test-app",
                                                  "/usr/lib/libb.so", "/usr/share/provider/data",
                                                  "/usr/lib/extra.so"}));
}

TEST_F(DpkgClosureTest, UnownedProgramOrNoDatabaseIsAnEmptyClosure) {
    write("status", "Package: app\nStatus: install ok installed\n\n");
    write("info/app.list", "/usr/bin/app\n");
    auto c = dpkg_closure("/usr/bin/other", admin_);
    ASSERT_TRUE(c.is_ok());
    EXPECT_TRUE(c->paths.empty());
    auto none = dpkg_closure("/usr/bin/app", admin_ + "/nonexistent");
    ASSERT_TRUE(none.is_ok());
    EXPECT_TRUE(none->packages.empty());
    // A program outside the packaged directories is not looked up.
    write("info/app.list", "/home/u/app\n");
    EXPECT_TRUE(dpkg_closure("/home/u/app", admin_)->packages.empty());
}

}  // namespace
}  // namespace ember
