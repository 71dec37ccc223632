// Debian's interpreters with no flag: `ember-vm run /usr/bin/python3 ...`
// brings the files of the program's dpkg packages (python3's standard
// library, node's modules) besides its ELF dependencies, and prints what a
// native run prints, with the same exit status.
#include <unistd.h>

#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class DebianProgramsTest : public EmberTest {
  protected:
    static bool installed(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }
};

TEST_F(DebianProgramsTest, Python3DashCAsNatively) {
    if (!installed("/usr/bin/python3")) GTEST_SKIP() << "python3 is not installed";
    expect_as_native({"/usr/bin/python3", "-c", "print(1+1)"});
}

TEST_F(DebianProgramsTest, Python3ScriptUsingJsonOsReAsNatively) {
    if (!installed("/usr/bin/python3")) GTEST_SKIP() << "python3 is not installed";
    // The same path natively and in the guest, and not under /tmp, which is
    // the guest's own tmpfs (the build tree may be under /tmp too).
    const std::string script = "/var/tmp/ember_debian_script_" + std::to_string(getpid()) + ".py";
    write_file(script,
               "import json, os, re, sys\n"
               "d = {'a': [1, 2, 3], 'b': {'c': 'd'}}\n"
               "s = json.dumps(d, sort_keys=True)\n"
               "print(s, json.loads(s)['a'][2])\n"
               "print(re.sub(r'(\\d+)', r'<\\1>', 'x1y22z333'))\n"
               "print(os.path.basename('/a/b/c.txt'), os.sep, os.path.exists(sys.argv[0]))\n"
               "sys.exit(4)\n");
    expect_as_native({"/usr/bin/python3", script}, {"--file", script + ":" + script});
    ::unlink(script.c_str());
}

TEST_F(DebianProgramsTest, NodeAsNatively) {
    if (!installed("/usr/bin/node")) GTEST_SKIP() << "nodejs is not installed (scripts/deps.sh)";
    // node's own image is 85 MiB of RAM; its tree is in the root
    // filesystem's slot, not in RAM.
    expect_as_native({"/usr/bin/node", "-e",
                      "console.log(JSON.stringify({a: [1, 2, 3]}), [1, 2, 3].map(x => x * x)"
                      ".join(','), require('path').basename('/a/b.js')); process.exitCode = 3;"},
                     {"--mem", "256M"});
}

}  // namespace
}  // namespace ember::test
