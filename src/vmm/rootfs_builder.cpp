// rootfs_builder.cpp - see rootfs_builder.h.
#include "vmm/rootfs_builder.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <utility>

#include "vmm/dpkg_closure.h"
#include "vmm/elf_deps.h"

namespace ember {

Status RootfsBuilder::add_archive(std::span<const uint8_t> archive) {
    if (looks_like_tar(archive)) {
        LayerBudget budget;
        return apply_tar_layer(w_, archive, ImageLimits{}, &budget);
    }
    if (std::string err = cpio::add_archive(w_, archive); !err.empty())
        return Status::corruption(err);
    return Status::ok();
}

Status RootfsBuilder::add_host_tree(const std::string& host_dir) {
    if (std::string err = cpio::add_host_tree(w_, host_dir); !err.empty())
        return Status::invalid_argument(err);
    return Status::ok();
}

Status RootfsBuilder::add_host_dependencies(std::span<const uint8_t> program) {
    auto deps = host_dependencies(program);
    if (!deps) return Status(deps.code(), deps.message() + " (give --rootfs with it)");
    for (const auto& d : *deps) {
        // Already there from the program's packages (maybe as a symlink).
        if (w_.find_file(d.path)) continue;
        if (!w_.add_file(d.path, d.data, 0755))
            return Status::invalid_argument("cannot place " + d.path + " in the root filesystem");
        host_inputs_.push_back(d.path);
    }
    return Status::ok();
}

Status RootfsBuilder::add_host_packages(const std::string& program) {
    auto closure = dpkg_closure(program);
    if (!closure) return closure.status();
    if (closure->paths.empty()) return Status::ok();
    constexpr uint64_t kMaxBytes = 2ull << 30;
    uint64_t bytes = 0;
    host_inputs_.push_back("/var/lib/dpkg/status");
    for (const auto& path : closure->paths) {
        struct stat st;
        // A listed directory stays a directory even where this host made it
        // a symlink (merged /usr: /lib64 -> usr/lib64): the files listed
        // under it go inside.
        if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
            if (!w_.contains(path)) (void)w_.add_dir(path, st.st_mode & 07777);
            continue;
        }
        if (lstat(path.c_str(), &st) != 0) continue;
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            const ssize_t n = readlink(path.c_str(), target, sizeof target);
            if (n > 0 && static_cast<size_t>(n) < sizeof target)
                (void)w_.add_symlink(path, std::string_view(target, static_cast<size_t>(n)));
            continue;
        }
        if (!S_ISREG(st.st_mode)) continue;
        if (bytes + static_cast<uint64_t>(st.st_size) > kMaxBytes)
            return Status::invalid_argument("the packages of " + program + " hold more than " +
                                            std::to_string(kMaxBytes >> 30) + " GiB");
        std::ifstream f(path, std::ios::binary);
        if (!f) continue;
        std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)),
                                  std::istreambuf_iterator<char>());
        bytes += data.size();
        if (w_.add_file(path, data, st.st_mode & 07777)) host_inputs_.push_back(path);
    }
    return Status::ok();
}

// What programs look up in /etc: users and groups (getpwnam("nobody")),
// names of this host (getaddrinfo("localhost")), where to look them up.
Status RootfsBuilder::add_etc_defaults() {
    static const std::pair<const char*, const char*> files[] = {
        {"etc/passwd",
         "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
        {"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
        {"etc/hosts", "127.0.0.1\tlocalhost ember\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
        {"etc/hostname", "ember\n"},
        {"etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"},
    };
    for (const auto& [path, text] : files) {
        if (w_.contains(path)) continue;
        const std::string_view t(text);
        if (!w_.add_file(path, {reinterpret_cast<const uint8_t*>(t.data()), t.size()}, 0644))
            return Status::invalid_argument(std::string("cannot create /") + path +
                                            " (is /etc a directory?)");
    }
    return Status::ok();
}

Result<ImageConfig> RootfsBuilder::add_image(const std::string& path) {
    return load_image(path, w_);
}

Result<ImageConfig> RootfsBuilder::add_image_archive(std::span<const uint8_t> archive) {
    return load_image_archive(archive, w_);
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

Status RootfsBuilder::set_interpreter(std::span<const uint8_t> program, VmConfig* cfg) {
    auto interp = elf_interpreter(program);
    cfg->interpreter.clear();
    if (interp && !interp->empty()) {
        const std::vector<uint8_t>* data = w_.find_file(*interp);
        if (!data)
            return Status::not_found("the program is dynamically linked and its interpreter " +
                                     *interp + " is not in the root filesystem");
        cfg->interpreter = *data;
    }
    return Status::ok();
}

Status RootfsBuilder::finish_in_tree(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env, const std::string& cwd,
                                     VmConfig* cfg) {
    if (argv.empty() || argv[0].empty())
        return Status::invalid_argument("no program to run (the image has no Entrypoint or Cmd)");
    std::string dir = cwd.empty() ? "/" : cwd;
    if (dir[0] != '/') dir = "/" + dir;
    std::string path = argv[0];
    if (path.find('/') == std::string::npos) {
        std::string search = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (const auto& e : env)
            if (e.rfind("PATH=", 0) == 0) search = e.substr(5);
        path.clear();
        for (size_t i = 0; i <= search.size();) {
            const size_t j = std::min(search.find(':', i), search.size());
            const std::string candidate = search.substr(i, j - i) + "/" + argv[0];
            if (j > i && w_.find_file(candidate)) {
                path = candidate;
                break;
            }
            i = j + 1;
        }
        if (path.empty())
            return Status::not_found(argv[0] + ": not found in the image's PATH (" + search + ")");
    } else if (path[0] != '/') {
        path = dir + "/" + path;
    }
    const std::vector<uint8_t>* program = w_.find_file(path);
    if (!program) return Status::not_found(path + ": no such file in the root filesystem");
    if (!has_tmp_) {
        if (auto st = add_tmp(); !st) return st;
    }
    if (!w_.find_file(dir) && !w_.contains(dir) && !w_.add_dir(dir, 0755))
        return Status::invalid_argument("cannot create the working directory " + dir);
    if (auto st = add_etc_defaults(); !st) return st;
    cfg->program = *program;
    if (auto st = set_interpreter(cfg->program, cfg); !st) return st;
    cfg->guest_path = path;
    cfg->cwd = dir;
    cfg->rootfs = w_.finish();
    cfg->argv = argv;
    cfg->env = env;
    return Status::ok();
}

Status RootfsBuilder::finish(std::vector<uint8_t> program, const std::string& name,
                             const std::string& argv0, const std::vector<std::string>& args,
                             VmConfig* cfg) {
    if (!has_tmp_) {
        if (auto st = add_tmp(); !st) return st;
    }
    if (auto st = add_etc_defaults(); !st) return st;
    if (auto st = set_interpreter(program, cfg); !st) return st;
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
