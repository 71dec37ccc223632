// rootfs_builder.h - the root filesystem and command line of one program,
// the same for `ember-vm run` and for emberd's services. Layers, in this
// order (later layers win): an optional base tree (a cpio archive or a host
// directory), a /tmp writable by all, the caller's files, and the program
// itself at /bin/<name>. A dynamically linked program's interpreter is
// taken from the tree (VmConfig::interpreter); without a base tree,
// add_host_dependencies() brings it and the shared libraries from the host.
// /etc/passwd, group, hosts, hostname and nsswitch.conf get defaults when
// the tree has none.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "vmm/cpio_writer.h"
#include "vmm/image.h"
#include "vmm/vm_config.h"

namespace ember {

class RootfsBuilder {
  public:
    // The base tree, before anything else. Messages name the defect.
    Status add_archive(std::span<const uint8_t> archive);  // cpio, or tar (any compression)
    // A container image (image.h); its configuration is returned.
    Result<ImageConfig> add_image(const std::string& path);
    Result<ImageConfig> add_image_archive(std::span<const uint8_t> archive);
    Status add_host_tree(const std::string& host_dir);
    // For a dynamically linked program (nothing for a static one): its
    // interpreter and, transitively, the shared libraries it needs, read from
    // the host and placed at the paths the interpreter searches.
    Status add_host_dependencies(std::span<const uint8_t> program);
    // For a program a Debian package installed (program: its host path):
    // the files of that package and of the packages it depends on
    // (dpkg_closure.h), read from the host at the same paths, so that
    // python3 finds its standard library. Nothing when no package owns it.
    // Unreadable files are skipped; at most 2 GiB of contents.
    Status add_host_packages(const std::string& program);
    // /tmp, mode 01777; finish() adds it when the caller has not.
    Status add_tmp();
    Status add_file(const std::string& guest_path, std::span<const uint8_t> data, uint32_t mode);
    // Puts `program` at /bin/<name> and fills cfg's program, guest_path,
    // rootfs and argv: argv0 (the guest path when empty), then args.
    Status finish(std::vector<uint8_t> program, const std::string& name, const std::string& argv0,
                  const std::vector<std::string>& args, VmConfig* cfg);
    // For a program that is already in the tree (an image's entrypoint):
    // argv[0] is its path, absolute or looked up in PATH (from env, else the
    // usual default); cwd is created when missing. Fills cfg's program,
    // guest_path, interpreter, rootfs, argv, env and cwd.
    Status finish_in_tree(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& cwd, VmConfig* cfg);

    // The host files add_host_dependencies() and add_host_packages() read
    // (for a cache's check that they are unchanged).
    const std::vector<std::string>& host_inputs() const { return host_inputs_; }

  private:
    Status add_etc_defaults();
    Status set_interpreter(std::span<const uint8_t> program, VmConfig* cfg);
    cpio::Writer w_;
    bool has_tmp_ = false;
    std::vector<std::string> host_inputs_;
};

}  // namespace ember
