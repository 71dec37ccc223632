// rootfs_builder.h - the root filesystem and command line of one program,
// the same for `ember-vm run` and for emberd's services. Layers, in this
// order (later layers win): an optional base tree (a cpio archive or a host
// directory), a /tmp writable by all, the caller's files, and the program
// itself at /bin/<name>.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/cpio_writer.h"
#include "vmm/vm_config.h"

namespace ember {

class RootfsBuilder {
  public:
    // The base tree, before anything else. Messages name the defect.
    Status add_archive(std::span<const uint8_t> archive);
    Status add_host_tree(const std::string& host_dir);
    // /tmp, mode 01777; finish() adds it when the caller has not.
    Status add_tmp();
    Status add_file(const std::string& guest_path, std::span<const uint8_t> data, uint32_t mode);
    // Puts `program` at /bin/<name> and fills cfg's program, guest_path,
    // rootfs and argv: argv0 (the guest path when empty), then args.
    Status finish(std::vector<uint8_t> program, const std::string& name, const std::string& argv0,
                  const std::vector<std::string>& args, VmConfig* cfg);

  private:
    cpio::Writer w_;
    bool has_tmp_ = false;
};

}  // namespace ember
