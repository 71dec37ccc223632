// cpio_writer.cpp - see cpio_writer.h.
#include "vmm/cpio_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <map>
#include <system_error>
#include <tuple>
#include <utility>

namespace ember::cpio {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxFileSize = 0xffffffffu;  // newc's filesize is 8 hex digits
constexpr std::string_view kTrailerName = "TRAILER!!!";
constexpr uint32_t kPermMask = 07777;

bool normalized(std::string_view raw, std::string* out) {
    if (raw.size() > UINT32_MAX) return false;
    char buf[kMaxName];
    if (!normalize_name(raw.data(), static_cast<uint32_t>(raw.size()), buf, sizeof buf))
        return false;
    *out = buf;
    return true;
}

// Why raw cannot name a guest object of the given type, or "" if it can;
// stores the normalised path in *out.
std::string path_problem(std::string_view raw, uint32_t type, std::string* out) {
    if (!normalized(raw, out)) return "invalid path (empty, \"..\" component or too long)";
    if (out->empty() && type != kModeDir) return "the root must be a directory";
    if (*out == kTrailerName) return "TRAILER!!! is reserved for the end of the archive";
    return "";
}

// Archive names are hostile: keep control characters out of log lines.
std::string printable(std::string_view s) {
    std::string r;
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f || c == '\\') {
            char esc[5];
            std::snprintf(esc, sizeof esc, "\\x%02x", c);
            r += esc;
        } else {
            r += static_cast<char>(c);
        }
    }
    return r;
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// Reads a regular file without following a symlink that replaced it.
std::string read_file(const std::string& path, std::vector<uint8_t>* out) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errno_text(errno);
    std::string err;
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        err = errno_text(errno);
    } else if (!S_ISREG(st.st_mode)) {
        err = "no longer a regular file";
    } else if (static_cast<uint64_t>(st.st_size) > kMaxFileSize) {
        err = "larger than 4 GiB - 1 bytes, the cpio newc limit";
    } else {
        out->resize(static_cast<size_t>(st.st_size));
        size_t got = 0;
        while (got < out->size()) {
            const ssize_t n = ::read(fd, out->data() + got, out->size() - got);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                err = errno_text(errno);
                break;
            }
            if (n == 0) break;  // the file shrank while being read
            got += static_cast<size_t>(n);
        }
        out->resize(got);
    }
    ::close(fd);
    return err;
}

std::string add_tree(Writer& w, const fs::path& dir, const std::string& guest_dir) {
    std::error_code ec;
    std::vector<fs::directory_entry> entries;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        entries.push_back(*it);
    if (ec) return dir.string() + ": " + ec.message();
    // Directory order depends on the host file system; sorting keeps images
    // reproducible.
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return a.path().filename() < b.path().filename();
    });

    for (const fs::directory_entry& e : entries) {
        const std::string host = e.path().string();
        const std::string guest =
            (guest_dir.empty() ? "" : guest_dir + "/") + e.path().filename().string();
        const fs::file_status st = e.symlink_status(ec);
        if (ec) return host + ": " + ec.message();
        const uint32_t perms = static_cast<uint32_t>(st.permissions()) & kPermMask;
        struct stat host_st {};
        const uint32_t mtime = ::lstat(host.c_str(), &host_st) == 0 && host_st.st_mtime > 0
                                   ? static_cast<uint32_t>(host_st.st_mtime)
                                   : 0;
        std::string norm;
        bool ok = true;
        switch (st.type()) {
            case fs::file_type::directory: {
                if (std::string why = path_problem(guest, kModeDir, &norm); !why.empty())
                    return host + ": " + why;
                ok = w.add_dir(norm, perms, mtime);
                if (ok) {
                    if (std::string err = add_tree(w, e.path(), norm); !err.empty()) return err;
                }
                break;
            }
            case fs::file_type::regular: {
                if (std::string why = path_problem(guest, kModeFile, &norm); !why.empty())
                    return host + ": " + why;
                std::vector<uint8_t> data;
                if (std::string err = read_file(host, &data); !err.empty())
                    return host + ": " + err;
                ok = w.add_file(norm, data, perms, mtime);
                break;
            }
            case fs::file_type::symlink: {
                if (std::string why = path_problem(guest, kModeSymlink, &norm); !why.empty())
                    return host + ": " + why;
                const fs::path target = fs::read_symlink(e.path(), ec);
                if (ec) return host + ": " + ec.message();
                ok = w.add_symlink(norm, target.string(), mtime);
                break;
            }
            default:
                break;  // devices, fifos, sockets: the guest has no use for them
        }
        if (!ok) return host + ": conflicts with an existing entry /" + norm;
    }
    return "";
}

// GNU cpio stores a hard-linked file's data with only one of its links (the
// last); the others have size 0. Links are matched on (dev, ino).
struct LinkGroup {
    std::span<const uint8_t> data;
    bool has_data = false;
    std::vector<std::pair<std::string, uint32_t>> waiting;  // path, perms
};
using LinkKey = std::tuple<uint32_t, uint32_t, uint32_t>;

}  // namespace

bool Writer::add_dir(std::string_view path, uint32_t mode, uint32_t mtime) {
    return add(path, kModeDir | (mode & kPermMask), {}, mtime);
}

bool Writer::add_file(std::string_view path, std::span<const uint8_t> data, uint32_t mode,
                      uint32_t mtime) {
    return add(path, kModeFile | (mode & kPermMask), data, mtime);
}

bool Writer::add_symlink(std::string_view path, std::string_view target, uint32_t mtime) {
    if (target.empty() || target.find('\0') != std::string_view::npos) return false;
    const auto* bytes = reinterpret_cast<const uint8_t*>(target.data());
    return add(path, kModeSymlink | 0777, {bytes, target.size()}, mtime);
}

namespace {

// Splits path into components, applying "." and ".." (".." at the root
// stays at the root, as in the kernel).
void push_components(std::string_view path, std::vector<std::string>* out) {
    size_t i = 0;
    while (i < path.size()) {
        const size_t j = std::min(path.find('/', i), path.size());
        const std::string_view c = path.substr(i, j - i);
        if (c == "..") {
            if (!out->empty()) out->pop_back();
        } else if (!c.empty() && c != ".") {
            out->emplace_back(c);
        }
        i = j + 1;
    }
}

std::string join(const std::vector<std::string>& comps, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += (i ? "/" : "") + comps[i];
    return s;
}

}  // namespace

const std::vector<uint8_t>* Writer::find_file(std::string_view path) const {
    std::vector<std::string> comps;
    push_components(path, &comps);
    int links = 0;
    for (size_t i = 0; i < comps.size();) {
        const auto it = index_.find(join(comps, i + 1));
        if (it == index_.end()) return nullptr;
        const Node& n = nodes_[it->second];
        const uint32_t type = n.mode & kModeTypeMask;
        if (type == kModeSymlink) {
            if (++links > 40) return nullptr;
            // Replace components [0, i] with the target's resolution.
            std::vector<std::string> next;
            const std::string_view target(reinterpret_cast<const char*>(n.data.data()),
                                          n.data.size());
            if (!target.empty() && target[0] != '/') next.assign(comps.begin(), comps.begin() + i);
            push_components(target, &next);
            next.insert(next.end(), comps.begin() + i + 1, comps.end());
            comps = std::move(next);
            i = 0;
            continue;
        }
        if (i + 1 == comps.size()) return type == kModeFile ? &n.data : nullptr;
        if (type != kModeDir) return nullptr;
        ++i;
    }
    return nullptr;
}

void Writer::remove_under(const std::string& norm, bool self) {
    const std::string prefix = norm + "/";
    for (auto it = index_.begin(); it != index_.end();) {
        const bool hit =
            (self && it->first == norm) || it->first.compare(0, prefix.size(), prefix) == 0;
        if (!hit) {
            ++it;
            continue;
        }
        Node& n = nodes_[it->second];
        n.removed = true;
        n.data.clear();
        n.data.shrink_to_fit();
        it = index_.erase(it);
    }
}

bool Writer::remove(std::string_view path) {
    std::string norm;
    if (!normalized(path, &norm) || norm.empty()) return false;
    remove_under(norm, true);
    return true;
}

bool Writer::clear_dir(std::string_view path) {
    std::string norm;
    if (!normalized(path, &norm)) return false;
    if (!norm.empty()) {
        const auto it = index_.find(norm);
        if (it == index_.end() || (nodes_[it->second].mode & kModeTypeMask) != kModeDir)
            return false;
    }
    if (norm.empty()) {
        for (auto& n : nodes_) n.removed = true;
        nodes_.clear();
        index_.clear();
        return true;
    }
    remove_under(norm, false);
    return true;
}

const std::vector<uint8_t>* Writer::file_at(std::string_view path) const {
    std::string norm;
    if (!normalized(path, &norm)) return nullptr;
    const auto it = index_.find(norm);
    if (it == index_.end() || (nodes_[it->second].mode & kModeTypeMask) != kModeFile)
        return nullptr;
    return &nodes_[it->second].data;
}

bool Writer::contains(std::string_view path) const {
    std::string norm;
    if (!normalized(path, &norm)) return false;
    return norm.empty() || index_.count(norm) != 0;
}

bool Writer::add(std::string_view path, uint32_t mode, std::span<const uint8_t> data,
                 uint32_t mtime) {
    const uint32_t type = mode & kModeTypeMask;
    std::string norm;
    if (!path_problem(path, type, &norm).empty() || data.size() > kMaxFileSize) return false;
    if (norm.empty()) return true;  // the root directory always exists

    // Check everything before changing anything, so a failed add leaves the
    // writer as it was.
    for (size_t slash = norm.find('/'); slash != std::string::npos;
         slash = norm.find('/', slash + 1)) {
        const auto it = index_.find(norm.substr(0, slash));
        if (it != index_.end() && (nodes_[it->second].mode & kModeTypeMask) != kModeDir)
            return false;
    }
    const auto self = index_.find(norm);
    if (self != index_.end()) {
        Node& node = nodes_[self->second];
        if ((node.mode & kModeTypeMask) != type) return false;
        node.mode = mode;
        node.data.assign(data.begin(), data.end());
        node.mtime = mtime;
        return true;
    }

    for (size_t slash = norm.find('/'); slash != std::string::npos;
         slash = norm.find('/', slash + 1)) {
        std::string parent = norm.substr(0, slash);
        if (index_.count(parent) != 0) continue;
        index_.emplace(parent, nodes_.size());
        nodes_.push_back(Node{std::move(parent), kModeDir | 0755, {}, mtime});
    }
    index_.emplace(norm, nodes_.size());
    nodes_.push_back(Node{std::move(norm), mode, {data.begin(), data.end()}, mtime});
    return true;
}

std::vector<uint8_t> Writer::finish() {
    std::vector<uint8_t> out;
    const auto pad4 = [&out] { out.resize((out.size() + 3) & ~size_t{3}, 0); };
    const auto put = [&](uint32_t ino, uint32_t mode, uint32_t nlink, uint32_t mtime,
                         std::string_view name, std::span<const uint8_t> data) {
        char header[kHeaderSize + 1];
        // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
        // rdevminor namesize check
        std::snprintf(header, sizeof header,
                      "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0u,
                      0u, nlink, mtime, static_cast<uint32_t>(data.size()), 0u, 0u, 0u, 0u,
                      static_cast<uint32_t>(name.size() + 1), 0u);
        out.insert(out.end(), header, header + kHeaderSize);
        out.insert(out.end(), name.begin(), name.end());
        out.push_back(0);
        pad4();
        out.insert(out.end(), data.begin(), data.end());
        pad4();
    };
    for (size_t i = 0; i < nodes_.size(); ++i) {
        const Node& n = nodes_[i];
        if (n.removed) continue;
        const uint32_t nlink = (n.mode & kModeTypeMask) == kModeDir ? 2 : 1;
        put(static_cast<uint32_t>(i + 1), n.mode, nlink, n.mtime, n.path, n.data);
    }
    put(0, 0, 1, 0, kTrailerName, {});
    nodes_.clear();
    index_.clear();
    return out;
}

std::string add_host_tree(Writer& w, const std::string& host_dir) {
    std::error_code ec;
    if (!fs::is_directory(host_dir, ec))
        return host_dir + ": " + (ec ? ec.message() : "not a directory");
    return add_tree(w, host_dir, "");
}

std::string add_archive(Writer& w, std::span<const uint8_t> archive) {
    Reader reader(archive.data(), archive.size());
    std::map<LinkKey, LinkGroup> links;
    for (;;) {
        const uint64_t at = reader.offset();
        Entry e;
        const Error err = reader.next(&e);
        if (err == Error::kEnd) break;
        if (err != Error::kOk)
            return "cpio archive: " + std::string(error_string(err)) + " at offset " +
                   std::to_string(at);

        const uint32_t type = e.mode & kModeTypeMask;
        if (type != kModeDir && type != kModeFile && type != kModeSymlink) continue;
        const std::string where = "cpio archive: entry \"" + printable({e.name, e.name_len}) +
                                  "\" at offset " + std::to_string(at) + ": ";
        std::string path;
        if (std::string why = path_problem({e.name, e.name_len}, type, &path); !why.empty())
            return where + why;
        if (path.empty()) continue;  // the root directory: always present
        const std::span<const uint8_t> data(e.data, e.size);
        const uint32_t perms = e.mode & kPermMask;

        bool ok = true;
        if (type == kModeDir) {
            ok = w.add_dir(path, perms, e.mtime);
        } else if (type == kModeSymlink) {
            const std::string_view target(reinterpret_cast<const char*>(e.data), e.size);
            if (target.empty() || target.find('\0') != std::string_view::npos)
                return where + "empty symlink target or target containing NUL";
            ok = w.add_symlink(path, target, e.mtime);
        } else if (e.nlink <= 1) {
            ok = w.add_file(path, data, perms, e.mtime);
        } else {
            LinkGroup& g = links[LinkKey{e.dev_major, e.dev_minor, e.ino}];
            if (e.size > 0) {
                g.data = data;
                g.has_data = true;
                for (const auto& [p, m] : g.waiting)
                    if (!w.add_file(p, data, m, e.mtime))
                        return where + "hard link /" + p + " conflicts";
                g.waiting.clear();
            }
            if (g.has_data)
                ok = w.add_file(path, g.data, perms, e.mtime);
            else
                g.waiting.emplace_back(path, perms);
        }
        if (!ok) return where + "conflicts with an existing entry";
    }
    // Links whose group never carried data are genuinely empty files.
    for (const auto& [key, g] : links)
        for (const auto& [p, m] : g.waiting)
            if (!w.add_file(p, {}, m)) return "cpio archive: hard link /" + p + " conflicts";
    return "";
}

}  // namespace ember::cpio
