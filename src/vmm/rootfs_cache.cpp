// rootfs_cache.cpp - see rootfs_cache.h.
#include "vmm/rootfs_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/clock.h"
#include "common/cpio.h"
#include "common/fd_io.h"

namespace ember {
namespace {

constexpr char kMagic[] = "ember-rootfs-cache 1";
constexpr uint64_t kMaxMetaBytes = 16ull << 20;

// 128-bit FNV-1a (two 64-bit lanes with different offsets) as hex: names
// entries and condenses tree identities. Not a defence against a crafted
// collision: the key itself is stored and compared on lookup, and the
// inputs are the user's own files.
std::string hash_hex(std::string_view s) {
    uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
    for (unsigned char c : s) {
        a = (a ^ c) * 0x100000001b3ull;
        b = (b ^ c ^ 0x5a) * 0x100000001b3ull;
    }
    char out[33];
    std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(a),
                  static_cast<unsigned long long>(b));
    return out;
}

std::string stat_line(const struct stat& st) {
    return std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
           std::to_string(st.st_mtim.tv_sec * 1'000'000'000ll + st.st_mtim.tv_nsec);
}

void walk(const std::string& dir, const std::string& rel, std::string* out, int depth) {
    if (depth > 64) return;
    DIR* d = opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (dirent* e = readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
            names.emplace_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
        struct stat st;
        const std::string path = dir + "/" + n;
        if (lstat(path.c_str(), &st) != 0) continue;
        *out += rel + "/" + n + " " + stat_line(st) + "\n";
        if (S_ISDIR(st.st_mode)) walk(path, rel + "/" + n, out, depth + 1);
    }
}

// What an input is now: "dir:" inputs by their tree, others as files.
std::string identity_of(const std::string& input) {
    if (input.rfind("dir:", 0) == 0) {
        const std::string t = tree_identity(input.substr(4));
        return t.empty() ? "" : hash_hex(t);
    }
    return file_identity(input);
}

// Length-prefixed fields: "<len>\n<bytes>\n".
void put_field(std::string* out, std::string_view v) {
    *out += std::to_string(v.size()) + "\n";
    out->append(v);
    *out += "\n";
}

bool get_field(std::string_view* in, std::string* v) {
    const size_t nl = in->find('\n');
    if (nl == std::string_view::npos || nl == 0 || nl > 20) return false;
    uint64_t len = 0;
    for (size_t i = 0; i < nl; ++i) {
        if ((*in)[i] < '0' || (*in)[i] > '9') return false;
        len = len * 10 + static_cast<uint64_t>((*in)[i] - '0');
    }
    if (len > in->size() - nl - 1 || in->size() - nl - 1 - len < 1 || (*in)[nl + 1 + len] != '\n')
        return false;
    v->assign(in->substr(nl + 1, len));
    in->remove_prefix(nl + 2 + len);
    return true;
}

bool read_small_file(const std::string& path, std::string* out) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (!fd.valid() || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<uint64_t>(st.st_size) > kMaxMetaBytes)
        return false;
    out->resize(static_cast<size_t>(st.st_size));
    return pread_all(fd.get(), out->data(), out->size(), 0);
}

// Writes data to a temporary file in dir and renames it to name.
bool write_atomically(const std::string& dir, const std::string& name, const void* data,
                      size_t len) {
    std::string tmp = dir + "/.tmp." + name + ".XXXXXX";
    const int fd = mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = pwrite_all(fd, data, len, 0) && fchmod(fd, 0644) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) {
        ::unlink(tmp.c_str());
        return false;
    }
    return true;
}

bool make_dirs(const std::string& dir) {
    for (size_t i = 1; i <= dir.size(); ++i)
        if (i == dir.size() || dir[i] == '/') {
            const std::string part = dir.substr(0, i);
            if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
        }
    return true;
}

struct Meta {
    std::string key, meta, archive_name;
    uint64_t size = 0;
    std::vector<std::pair<std::string, std::string>> inputs;  // input, identity
};

bool parse_meta(std::string_view in, Meta* m) {
    std::string magic, size, n;
    if (!get_field(&in, &magic) || magic != kMagic || !get_field(&in, &m->key) ||
        !get_field(&in, &m->meta) || !get_field(&in, &m->archive_name) || !get_field(&in, &size) ||
        !get_field(&in, &n))
        return false;
    m->size = std::strtoull(size.c_str(), nullptr, 10);
    const uint64_t count = std::strtoull(n.c_str(), nullptr, 10);
    if (m->archive_name.find('/') != std::string::npos || count > in.size()) return false;
    for (uint64_t i = 0; i < count; ++i) {
        std::pair<std::string, std::string> p;
        if (!get_field(&in, &p.first) || !get_field(&in, &p.second)) return false;
        m->inputs.push_back(std::move(p));
    }
    return in.empty();
}

}  // namespace

std::string encode_fields(const std::vector<std::string>& fields) {
    std::string out;
    put_field(&out, std::to_string(fields.size()));
    for (const auto& f : fields) put_field(&out, f);
    return out;
}

bool decode_fields(std::string_view in, std::vector<std::string>* fields) {
    std::string n;
    if (!get_field(&in, &n)) return false;
    const uint64_t count = std::strtoull(n.c_str(), nullptr, 10);
    if (count > in.size()) return false;
    fields->clear();
    for (uint64_t i = 0; i < count; ++i) {
        std::string f;
        if (!get_field(&in, &f)) return false;
        fields->push_back(std::move(f));
    }
    return in.empty();
}

std::optional<std::pair<uint64_t, uint64_t>> find_file_data(std::span<const uint8_t> archive,
                                                            std::span<const uint8_t> content) {
    cpio::Reader r(archive.data(), archive.size());
    cpio::Entry e;
    while (r.next(&e) == cpio::Error::kOk)
        if ((e.mode & cpio::kModeTypeMask) == cpio::kModeFile && e.size == content.size() &&
            (e.size == 0 || std::memcmp(e.data, content.data(), e.size) == 0))
            return std::make_pair(static_cast<uint64_t>(e.data - archive.data()), e.size);
    return std::nullopt;
}

std::string rootfs_cache_dir() {
    if (const char* d = getenv("EMBER_CACHE_DIR"); d && *d) return d;
    if (const char* x = getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/ember";
    if (const char* h = getenv("HOME"); h && *h) return std::string(h) + "/.cache/ember";
    return "";
}

std::string file_identity(const std::string& path) {
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(path.c_str(), real) || stat(real, &st) != 0) return "";
    return std::string(real) + " " + std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) +
           " " + stat_line(st);
}

std::string tree_identity(const std::string& dir) {
    struct stat st;
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "";
    std::string out = ". " + stat_line(st) + "\n";
    walk(dir, "", &out, 0);
    return out;
}

Result<RootfsEntry> rootfs_in_memfd(std::span<const uint8_t> archive) {
    Fd fd(memfd_create("ember-rootfs", MFD_CLOEXEC));
    if (!fd.valid()) return Status::from_errno("memfd_create for the root filesystem");
    if (!pwrite_all(fd.get(), archive.data(), archive.size(), 0))
        return Status::from_errno("write the root filesystem to a memfd");
    RootfsEntry e;
    e.fd = std::move(fd);
    e.size = archive.size();
    return e;
}

std::optional<RootfsEntry> RootfsCache::lookup(const std::string& key) {
    if (dir_.empty()) return std::nullopt;
    const std::string name = hash_hex(key);
    std::string text;
    Meta m;
    if (!read_small_file(dir_ + "/" + name + ".meta", &text) || !parse_meta(text, &m) ||
        m.key != key)
        return std::nullopt;
    for (const auto& [input, identity] : m.inputs)
        if (identity.empty() || identity_of(input) != identity) return std::nullopt;
    const std::string archive = dir_ + "/" + m.archive_name;
    Fd fd(::open(archive.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (!fd.valid() || fstat(fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != m.size)
        return std::nullopt;
    // Recently used: eviction goes by modification time.
    futimens(fd.get(), nullptr);
    RootfsEntry e;
    e.fd = std::move(fd);
    e.size = m.size;
    e.meta = std::move(m.meta);
    e.path = archive;
    e.hit = true;
    return e;
}

Result<RootfsEntry> RootfsCache::store(const std::string& key, std::span<const uint8_t> archive,
                                       const std::string& meta,
                                       const std::vector<std::string>& inputs) {
    if (dir_.empty() || !make_dirs(dir_)) return rootfs_in_memfd(archive);
    const std::string name = hash_hex(key);
    // Each archive file has its own name; the meta file, renamed last, says
    // which one is current, so a reader never pairs one run's meta with
    // another's archive.
    std::string old_text;
    Meta old;
    const bool had_old =
        read_small_file(dir_ + "/" + name + ".meta", &old_text) && parse_meta(old_text, &old);
    const std::string archive_name =
        name + "." + hash_hex(std::to_string(getpid()) + " " + std::to_string(mono_ns())) + ".cpio";
    std::string text;
    put_field(&text, kMagic);
    put_field(&text, key);
    put_field(&text, meta);
    put_field(&text, archive_name);
    put_field(&text, std::to_string(archive.size()));
    put_field(&text, std::to_string(inputs.size()));
    for (const auto& input : inputs) {
        put_field(&text, input);
        put_field(&text, identity_of(input));
    }
    if (!write_atomically(dir_, archive_name, archive.data(), archive.size()))
        return rootfs_in_memfd(archive);
    if (!write_atomically(dir_, name + ".meta", text.data(), text.size())) {
        ::unlink((dir_ + "/" + archive_name).c_str());
        return rootfs_in_memfd(archive);
    }
    if (had_old && old.archive_name != archive_name)
        ::unlink((dir_ + "/" + old.archive_name).c_str());
    Fd fd(::open((dir_ + "/" + archive_name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return rootfs_in_memfd(archive);
    evict();
    RootfsEntry e;
    e.fd = std::move(fd);
    e.size = archive.size();
    e.meta = meta;
    e.path = dir_ + "/" + archive_name;
    return e;
}

void RootfsCache::evict() {
    DIR* d = opendir(dir_.c_str());
    if (!d) return;
    struct Item {
        std::string name;
        uint64_t size;
        int64_t mtime_ns;
    };
    std::vector<Item> items;
    uint64_t total = 0;
    while (dirent* e = readdir(d)) {
        const std::string n = e->d_name;
        if (n.size() < 5 || n.compare(n.size() - 5, 5, ".cpio") != 0 || n[0] == '.') continue;
        struct stat st;
        if (stat((dir_ + "/" + n).c_str(), &st) != 0) continue;
        items.push_back({n, static_cast<uint64_t>(st.st_size),
                         st.st_mtim.tv_sec * 1'000'000'000ll + st.st_mtim.tv_nsec});
        total += static_cast<uint64_t>(st.st_size);
    }
    closedir(d);
    std::sort(items.begin(), items.end(),
              [](const Item& a, const Item& b) { return a.mtime_ns < b.mtime_ns; });
    // An archive's entry is the meta file named by its first 32 characters;
    // removing the archive makes the entry a miss. Open mappings stay valid.
    for (const Item& it : items) {
        if (total <= max_bytes_) break;
        ::unlink((dir_ + "/" + it.name).c_str());
        ::unlink((dir_ + "/" + it.name.substr(0, 32) + ".meta").c_str());
        total -= it.size;
    }
}

}  // namespace ember
