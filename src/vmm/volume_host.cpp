// volume_host.cpp - see volume_host.h.
#include "vmm/volume_host.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>

#include "abi/ember_abi.h"

namespace ember {
namespace {

constexpr uint64_t kUnit = 4096;
// The first count of a volume walks at most this many entries; a larger
// tree is counted as full (its growth refused) rather than walked forever.
constexpr uint64_t kMaxWalkEntries = 1u << 20;

// A descriptor closed at the end of its scope.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// Checks the form the ABI promises: components joined by one '/', none
// empty, "." or "..", no NUL. "" is the root.
bool valid_rel_path(const std::string& p) {
    if (p.size() >= EMBER_VOLUME_PATH_MAX) return false;
    if (p.empty()) return true;
    size_t start = 0;
    for (;;) {
        size_t end = p.find('/', start);
        if (end == std::string::npos) end = p.size();
        const size_t n = end - start;
        if (n == 0 || n > 255) return false;
        if (p.compare(start, n, ".") == 0 || p.compare(start, n, "..") == 0) return false;
        if (end == p.size()) break;
        start = end + 1;
    }
    return p.find('\0') == std::string::npos;
}

// Opens rel beneath root; never follows a symlink, never leaves the tree.
int open_beneath(int root, const std::string& rel, uint64_t flags, uint32_t mode = 0) {
    open_how how{};
    how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
    how.mode = (flags & O_CREAT) ? (mode & 07777) : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    const char* p = rel.empty() ? "." : rel.c_str();
    for (;;) {
        const long r = ::syscall(SYS_openat2, root, p, &how, sizeof how);
        if (r >= 0 || errno != EAGAIN) return static_cast<int>(r);
    }
}

// rel itself for a metadata change: read-only, or write-only for a file
// whose mode denies reading (the host user owns the volume's files).
int open_file(int root, const std::string& rel) {
    const int fd = open_beneath(root, rel, O_RDONLY | O_NONBLOCK);  // a fifo never blocks
    if (fd >= 0 || errno != EACCES) return fd;
    return open_beneath(root, rel, O_WRONLY | O_NONBLOCK);
}

// The parent directory of rel (opened O_PATH) and rel's last component.
int open_parent(int root, const std::string& rel, std::string* name) {
    const size_t slash = rel.rfind('/');
    *name = slash == std::string::npos ? rel : rel.substr(slash + 1);
    const std::string dir = slash == std::string::npos ? "" : rel.substr(0, slash);
    return open_beneath(root, dir, O_PATH | O_DIRECTORY);
}

int64_t neg_errno() { return -static_cast<int64_t>(errno); }

void fill_stat(const struct stat& s, ember_vol_stat* o) {
    o->ino = s.st_ino;
    o->size = static_cast<uint64_t>(s.st_size);
    o->blocks = static_cast<uint64_t>(s.st_blocks);
    o->mode = s.st_mode;
    o->nlink = static_cast<uint32_t>(s.st_nlink);
    o->atime_ns = s.st_atim.tv_sec * 1'000'000'000ll + s.st_atim.tv_nsec;
    o->mtime_ns = s.st_mtim.tv_sec * 1'000'000'000ll + s.st_mtim.tv_nsec;
    o->ctime_ns = s.st_ctim.tv_sec * 1'000'000'000ll + s.st_ctim.tv_nsec;
}

// lstat of rel (the root itself for "").
int64_t stat_rel(int root, const std::string& rel, struct stat* st) {
    if (rel.empty()) return ::fstatat(root, "", st, AT_EMPTY_PATH) == 0 ? 0 : neg_errno();
    std::string name;
    Fd dir(open_parent(root, rel, &name));
    if (dir.fd < 0) return neg_errno();
    return ::fstatat(dir.fd, name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : neg_errno();
}

uint64_t charge_of(const struct stat& s) {
    return S_ISREG(s.st_mode) ? volume_charge(static_cast<uint64_t>(s.st_size)) : kUnit;
}

// Counts the tree's bytes as the quota does; nullopt when it is too large
// to walk (then nothing more may be added).
std::optional<uint64_t> walk_usage(int root) {
    std::deque<std::string> dirs{""};
    uint64_t used = 0, entries = 0;
    std::vector<char> buf(64 * 1024);
    while (!dirs.empty()) {
        const std::string rel = std::move(dirs.front());
        dirs.pop_front();
        Fd d(open_beneath(root, rel, O_RDONLY | O_DIRECTORY));
        if (d.fd < 0) continue;  // removed meanwhile, or not ours to enter
        for (;;) {
            const long n = ::syscall(SYS_getdents64, d.fd, buf.data(), buf.size());
            if (n <= 0) break;
            for (long off = 0; off < n;) {
                const auto* e = reinterpret_cast<const dirent64*>(buf.data() + off);
                off += e->d_reclen;
                const std::string name = e->d_name;
                if (name == "." || name == "..") continue;
                if (++entries > kMaxWalkEntries) return std::nullopt;
                struct stat st {};
                if (::fstatat(d.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
                used += charge_of(st);
                if (S_ISDIR(st.st_mode)) dirs.push_back(rel.empty() ? name : rel + "/" + name);
            }
        }
    }
    return used;
}

}  // namespace

uint64_t volume_charge(uint64_t size) {
    return std::max<uint64_t>(kUnit, (size + kUnit - 1) / kUnit * kUnit);
}

bool valid_volume_mount_point(const std::string& path) {
    if (path.size() < 2 || path.size() >= EMBER_VOLUME_MOUNT_MAX || path[0] != '/') return false;
    if (path.back() == '/') return false;
    if (!valid_rel_path(path.substr(1))) return false;
    for (const char* top : {"/proc", "/sys", "/dev", "/tmp"}) {
        const std::string t = top;
        if (path == t || path.rfind(t + "/", 0) == 0) return false;
    }
    return true;
}

VolumeHost::VolumeHost(const std::vector<VolumeMount>& mounts) {
    for (const auto& m : mounts) vols_.push_back(State{m, std::nullopt});
}

uint64_t VolumeHost::usage(uint32_t volume) {
    State& v = vols_.at(volume);
    if (!v.used) v.used = walk_usage(v.mount.dir_fd).value_or(UINT64_MAX);
    return *v.used;
}

bool VolumeHost::fits(State& v, uint64_t growth) {
    if (v.mount.quota_bytes == 0 || growth == 0) return true;
    if (!v.used) v.used = walk_usage(v.mount.dir_fd).value_or(UINT64_MAX);
    return *v.used <= v.mount.quota_bytes && growth <= v.mount.quota_bytes - *v.used;
}

void VolumeHost::charge(State& v, int64_t delta) {
    if (!v.used || *v.used == UINT64_MAX) return;
    if (delta < 0 && static_cast<uint64_t>(-delta) > *v.used)
        *v.used = 0;
    else
        *v.used += static_cast<uint64_t>(delta);
}

int64_t VolumeHost::handle(GuestMemory& mem, ember_hc_volume* a) {
    a->result = -EINVAL;
    a->st = ember_vol_stat{};
    if (a->volume >= vols_.size()) return EMBER_EINVAL;
    if (a->path_len >= EMBER_VOLUME_PATH_MAX || a->path2_len >= EMBER_VOLUME_PATH_MAX)
        return EMBER_EINVAL;
    if (a->len > EMBER_VOLUME_IO_MAX) return EMBER_EINVAL;
    std::string path(a->path_len, '\0'), path2(a->path2_len, '\0');
    if (!mem.read(a->path, path.data(), path.size()) ||
        !mem.read(a->path2, path2.data(), path2.size()) || !mem.contains(a->buf, a->len))
        return EMBER_EFAULT;
    if (!valid_rel_path(path) || !valid_rel_path(path2)) return EMBER_OK;  // result -EINVAL
    a->result = op(mem, vols_[a->volume], a, path, path2);
    return EMBER_OK;
}

int64_t VolumeHost::op(GuestMemory& mem, State& v, ember_hc_volume* a, const std::string& path,
                       const std::string& path2) {
    const int root = v.mount.dir_fd;
    if (a->op < EMBER_VOL_STAT || a->op > EMBER_VOL_LINK) return -ENOSYS;
    const bool changes = a->op != EMBER_VOL_STAT && a->op != EMBER_VOL_READ &&
                         a->op != EMBER_VOL_READLINK && a->op != EMBER_VOL_READDIR &&
                         a->op != EMBER_VOL_STATFS && a->op != EMBER_VOL_FSYNC;
    if (changes && v.mount.readonly) return -EROFS;
    // Nothing but reads, stat and metadata may name the root itself.
    const bool meta = a->op == EMBER_VOL_CHMOD || a->op == EMBER_VOL_UTIMES;
    if (changes && !meta && path.empty()) return a->op == EMBER_VOL_RMDIR ? -EBUSY : -EEXIST;
    auto buf = *mem.span(a->buf, a->len);
    struct stat st {};
    switch (a->op) {
        case EMBER_VOL_STAT: {
            const int64_t r = stat_rel(root, path, &st);
            if (r == 0) fill_stat(st, &a->st);
            return r;
        }
        case EMBER_VOL_STATFS:
            a->st.size = v.mount.quota_bytes;
            a->st.blocks =
                v.mount.quota_bytes ? usage(static_cast<uint32_t>(&v - vols_.data())) : 0;
            return 0;
        case EMBER_VOL_READ: {
            Fd f(open_beneath(root, path, O_RDONLY));
            if (f.fd < 0) return neg_errno();
            const ssize_t n = ::pread(f.fd, buf.data(), buf.size(), static_cast<off_t>(a->offset));
            return n < 0 ? neg_errno() : n;
        }
        case EMBER_VOL_WRITE: {
            const bool append = a->flags & EMBER_VOL_APPEND;
            Fd f(open_beneath(root, path, O_WRONLY));
            if (f.fd < 0) return neg_errno();
            if (::fstat(f.fd, &st) != 0) return neg_errno();
            const uint64_t old_size = static_cast<uint64_t>(st.st_size);
            const uint64_t off = append ? old_size : a->offset;
            uint64_t len = buf.size();
            if (off > (1ull << 40) || len > (1ull << 40) - off) return -EFBIG;
            if (!fits(v, volume_charge(std::max(old_size, off + len)) - volume_charge(old_size))) {
                // Cut the write at the quota; nothing fits: ENOSPC.
                const uint64_t room =
                    v.used && *v.used <= v.mount.quota_bytes ? v.mount.quota_bytes - *v.used : 0;
                const uint64_t max_size = (volume_charge(old_size) + room) / kUnit * kUnit;
                if (off >= max_size) return -ENOSPC;
                len = std::min(len, max_size - off);
            }
            const ssize_t n = ::pwrite(f.fd, buf.data(), len, static_cast<off_t>(off));
            if (n < 0) return neg_errno();
            if (::fstat(f.fd, &st) == 0) {
                charge(v, static_cast<int64_t>(volume_charge(static_cast<uint64_t>(st.st_size))) -
                              static_cast<int64_t>(volume_charge(old_size)));
                a->st.size = static_cast<uint64_t>(st.st_size);
            }
            return n;
        }
        case EMBER_VOL_CREATE: {
            // Refused at once when the file would not fit (if it exists, it
            // costs nothing more: the check is only for a new one).
            if (stat_rel(root, path, &st) == -ENOENT && !fits(v, kUnit)) return -ENOSPC;
            const uint64_t flags = O_RDWR | O_CREAT | ((a->flags & EMBER_VOL_EXCL) ? O_EXCL : 0);
            const bool existed = stat_rel(root, path, &st) == 0;
            Fd f(open_beneath(root, path, flags, a->mode));
            if (f.fd < 0) return neg_errno();
            if (::fstat(f.fd, &st) != 0) return neg_errno();
            if (!existed) charge(v, static_cast<int64_t>(kUnit));
            fill_stat(st, &a->st);
            return 0;
        }
        case EMBER_VOL_TRUNCATE: {
            Fd f(open_beneath(root, path, O_WRONLY));
            if (f.fd < 0) return neg_errno();
            if (::fstat(f.fd, &st) != 0) return neg_errno();
            const uint64_t old_c = volume_charge(static_cast<uint64_t>(st.st_size));
            const uint64_t new_c = volume_charge(a->offset);
            if (a->offset > (1ull << 40)) return -EFBIG;
            if (new_c > old_c && !fits(v, new_c - old_c)) return -ENOSPC;
            if (::ftruncate(f.fd, static_cast<off_t>(a->offset)) != 0) return neg_errno();
            charge(v, static_cast<int64_t>(new_c) - static_cast<int64_t>(old_c));
            return 0;
        }
        case EMBER_VOL_MKDIR:
        case EMBER_VOL_SYMLINK: {
            if (!fits(v, kUnit)) return -ENOSPC;
            std::string name;
            Fd dir(open_parent(root, path, &name));
            if (dir.fd < 0) return neg_errno();
            int r;
            if (a->op == EMBER_VOL_MKDIR) {
                r = ::mkdirat(dir.fd, name.c_str(), a->mode & 07777);
            } else {
                if (buf.empty() || std::find(buf.begin(), buf.end(), 0) != buf.end())
                    return -EINVAL;
                const std::string target(buf.begin(), buf.end());
                r = ::symlinkat(target.c_str(), dir.fd, name.c_str());
            }
            if (r != 0) return neg_errno();
            charge(v, static_cast<int64_t>(kUnit));
            return 0;
        }
        case EMBER_VOL_RMDIR:
        case EMBER_VOL_UNLINK: {
            std::string name;
            Fd dir(open_parent(root, path, &name));
            if (dir.fd < 0) return neg_errno();
            if (::fstatat(dir.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return neg_errno();
            const bool rmdir = a->op == EMBER_VOL_RMDIR;
            if (rmdir && !S_ISDIR(st.st_mode)) return -ENOTDIR;
            if (!rmdir && S_ISDIR(st.st_mode)) return -EISDIR;
            if (::unlinkat(dir.fd, name.c_str(), rmdir ? AT_REMOVEDIR : 0) != 0) return neg_errno();
            if (rmdir || st.st_nlink <= 1) charge(v, -static_cast<int64_t>(charge_of(st)));
            return 0;
        }
        case EMBER_VOL_RENAME: {
            if (path2.empty()) return -EBUSY;
            std::string from, to;
            Fd fdir(open_parent(root, path, &from));
            if (fdir.fd < 0) return neg_errno();
            Fd tdir(open_parent(root, path2, &to));
            if (tdir.fd < 0) return neg_errno();
            struct stat dst {};
            const bool replaced = ::fstatat(tdir.fd, to.c_str(), &dst, AT_SYMLINK_NOFOLLOW) == 0;
            const unsigned flags = (a->flags & EMBER_VOL_NOREPLACE) ? RENAME_NOREPLACE : 0;
            if (::syscall(SYS_renameat2, fdir.fd, from.c_str(), tdir.fd, to.c_str(), flags) != 0)
                return neg_errno();
            if (replaced && (S_ISDIR(dst.st_mode) || dst.st_nlink <= 1))
                charge(v, -static_cast<int64_t>(charge_of(dst)));
            return 0;
        }
        case EMBER_VOL_READLINK: {
            std::string name;
            Fd dir(open_parent(root, path, &name));
            if (dir.fd < 0) return neg_errno();
            const ssize_t n =
                ::readlinkat(dir.fd, name.c_str(), reinterpret_cast<char*>(buf.data()), buf.size());
            return n < 0 ? neg_errno() : n;
        }
        case EMBER_VOL_READDIR: {
            Fd d(open_beneath(root, path, O_RDONLY | O_DIRECTORY));
            if (d.fd < 0) return neg_errno();
            if (a->offset && ::lseek(d.fd, static_cast<off_t>(a->offset), SEEK_SET) < 0)
                return neg_errno();
            const long n = ::syscall(SYS_getdents64, d.fd, buf.data(), buf.size());
            return n < 0 ? neg_errno() : n;
        }
        case EMBER_VOL_FSYNC: {
            // Directories too: a program makes a new name durable by
            // syncing its directory (SQLite does after creating a journal).
            Fd f(open_beneath(root, path, O_RDONLY));
            if (f.fd < 0) return neg_errno();
            const int r = (a->flags & EMBER_VOL_DATASYNC) ? ::fdatasync(f.fd) : ::fsync(f.fd);
            return r == 0 ? 0 : neg_errno();
        }
        case EMBER_VOL_CHMOD:
        case EMBER_VOL_UTIMES: {
            // On a descriptor of the file itself (never a symlink: O_NOFOLLOW),
            // so nothing swapped in between a check and the change is touched.
            Fd f(open_file(root, path));
            if (f.fd < 0) return neg_errno();
            if (a->op == EMBER_VOL_CHMOD)
                return ::fchmod(f.fd, a->mode & 07777) == 0 ? 0 : neg_errno();
            int64_t ns[2];
            if (buf.size() != sizeof ns) return -EINVAL;
            std::memcpy(ns, buf.data(), sizeof ns);
            struct timespec ts[2];
            for (int k = 0; k < 2; k++) {
                if (ns[k] < -1) return -EINVAL;
                ts[k].tv_sec = ns[k] < 0 ? 0 : ns[k] / 1'000'000'000;
                ts[k].tv_nsec = ns[k] < 0 ? UTIME_OMIT : ns[k] % 1'000'000'000;
            }
            return ::futimens(f.fd, ts) == 0 ? 0 : neg_errno();
        }
        case EMBER_VOL_LINK: {
            if (path.empty() || path2.empty()) return -EEXIST;
            if (!fits(v, kUnit)) return -ENOSPC;
            std::string from, to;
            Fd fdir(open_parent(root, path, &from));
            if (fdir.fd < 0) return neg_errno();
            Fd tdir(open_parent(root, path2, &to));
            if (tdir.fd < 0) return neg_errno();
            // Flags 0: a symlink is linked itself, never followed.
            if (::linkat(fdir.fd, from.c_str(), tdir.fd, to.c_str(), 0) != 0) return neg_errno();
            charge(v, static_cast<int64_t>(kUnit));
            return 0;
        }
        default:
            return -ENOSYS;
    }
}

}  // namespace ember
