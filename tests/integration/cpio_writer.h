// cpio_writer.h - builds cpio "newc" archives in memory for tests: valid ones
// for --rootfs, and the raw bytes to truncate or corrupt for negative tests.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace ember::test {

class CpioWriter {
  public:
    void add_file(const std::string& name, const std::string& data, unsigned mode = 0644) {
        add(name, 0100000 | mode, data);
    }
    void add_dir(const std::string& name, unsigned mode = 0755) { add(name, 0040000 | mode, ""); }
    // Appends the TRAILER!!! entry and returns the archive.
    std::string finish() {
        add("TRAILER!!!", 0, "");
        return out_;
    }

  private:
    void add(const std::string& name, unsigned mode, const std::string& data) {
        char hdr[111];
        snprintf(hdr, sizeof hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                 ++ino_, mode, 0u, 0u, (mode & 0040000) ? 2u : 1u, 1700000000u,
                 static_cast<unsigned>(data.size()), 0u, 0u, 0u, 0u,
                 static_cast<unsigned>(name.size() + 1), 0u);
        out_.append(hdr, 110);
        out_.append(name);
        out_.push_back('\0');
        pad();
        out_.append(data);
        pad();
    }
    void pad() {
        while (out_.size() % 4) out_.push_back('\0');
    }
    std::string out_;
    unsigned ino_ = 0;
};

}  // namespace ember::test
