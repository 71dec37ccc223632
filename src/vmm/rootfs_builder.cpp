// rootfs_builder.cpp - see rootfs_builder.h.
#include "vmm/rootfs_builder.h"

#include <utility>

namespace ember {

Status RootfsBuilder::add_archive(std::span<const uint8_t> archive) {
    if (std::string err = cpio::add_archive(w_, archive); !err.empty())
        return Status::corruption(err);
    return Status::ok();
}

Status RootfsBuilder::add_host_tree(const std::string& host_dir) {
    if (std::string err = cpio::add_host_tree(w_, host_dir); !err.empty())
        return Status::invalid_argument(err);
    return Status::ok();
}

Status RootfsBuilder::add_tmp() {
    if (!w_.add_dir("tmp", 01777))
        return Status::invalid_argument("/tmp exists and is not a directory");
    has_tmp_ = true;
    return Status::ok();
}

Status RootfsBuilder::add_file(const std::string& guest_path, std::span<const uint8_t> data,
                               uint32_t mode) {
    if (!w_.add_file(guest_path, data, mode))
        return Status::invalid_argument("invalid guest path '" + guest_path + "'");
    return Status::ok();
}

Status RootfsBuilder::finish(std::vector<uint8_t> program, const std::string& name,
                             const std::string& argv0, const std::vector<std::string>& args,
                             VmConfig* cfg) {
    if (!has_tmp_) {
        if (auto st = add_tmp(); !st) return st;
    }
    cfg->program = std::move(program);
    cfg->guest_path = "/bin/" + name;
    if (!w_.add_file(cfg->guest_path, cfg->program, 0755))
        return Status::invalid_argument("cannot place the program at " + cfg->guest_path +
                                        " in the root filesystem");
    cfg->rootfs = w_.finish();
    cfg->argv.clear();
    cfg->argv.push_back(argv0.empty() ? cfg->guest_path : argv0);
    cfg->argv.insert(cfg->argv.end(), args.begin(), args.end());
    return Status::ok();
}

}  // namespace ember
