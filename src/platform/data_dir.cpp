#include "platform/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace ember::platform {

namespace {

Status mkdir_p(const std::string& path, mode_t mode) {
    std::string cur;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        cur = path.substr(0, j);
        if (!cur.empty() && ::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
            return Status::from_errno("mkdir " + cur);
        i = j + 1;
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Status::invalid_argument(path + " is not a directory");
    return Status::ok();
}

}  // namespace

Result<DataDir> DataDir::open(const std::string& dir) {
    if (dir.empty()) return Status::invalid_argument("empty data directory path");
    std::string root = dir;
    if (root[0] != '/') {
        char buf[4096];
        if (!::getcwd(buf, sizeof buf)) return Status::from_errno("getcwd");
        root = std::string(buf) + "/" + root;
    }
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    for (const std::string& d : {root, root + "/images", root + "/snapshots", root + "/suspended"})
        if (auto st = mkdir_p(d, 0700); !st)
            return Status(st.code(), "data directory: " + st.message());
    const std::string lock = root + "/lock";
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::from_errno("data directory: open " + lock);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return Status::conflict("data directory " + root + " is in use by another emberd");
    }
    return DataDir(root, fd);
}

DataDir::~DataDir() {
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::string> read_secret_file(const std::string& path, size_t min_size) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Status::from_errno("open " + path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return Status::invalid_argument(path + ": not a regular file");
    }
    if (st.st_mode & 077) {
        ::close(fd);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
        return Status::invalid_argument(path + ": readable by group or others (mode " + mode +
                                        "); chmod 600 it");
    }
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n <= 0) return Status::corruption(path + ": empty secret file");
    std::string secret(buf, static_cast<size_t>(n));
    while (!secret.empty() &&
           (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' '))
        secret.pop_back();
    if (secret.size() < min_size)
        return Status::corruption(path + ": shorter than " + std::to_string(min_size) +
                                  " characters");
    return secret;
}

Result<std::string> load_or_create_token(const std::string& path) {
    struct stat ls;
    if (::lstat(path.c_str(), &ls) != 0 && errno == ENOENT) {
        unsigned char raw[32];
        if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
            return Status::from_errno("getrandom");
        static const char* kHex = "0123456789abcdef";
        std::string tok;
        for (unsigned char c : raw) {
            tok += kHex[c >> 4];
            tok += kHex[c & 15];
        }
        const std::string tmp = path + ".tmp";
        ::unlink(tmp.c_str());
        const int w = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w < 0) return Status::from_errno("create " + tmp);
        const std::string line = tok + "\n";
        const bool ok = ::write(w, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                        ::fsync(w) == 0;
        ::close(w);
        if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
            ::unlink(tmp.c_str());
            return Status::from_errno("write " + path);
        }
        return tok;
    }
    return read_secret_file(path, 16);
}

bool bearer_matches(const std::string& authorization, const std::string& token) {
    static const std::string kPrefix = "Bearer ";
    if (authorization.size() != kPrefix.size() + token.size() || token.empty()) return false;
    if (authorization.compare(0, kPrefix.size(), kPrefix) != 0) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < token.size(); ++i)
        diff |= static_cast<unsigned char>(authorization[kPrefix.size() + i] ^ token[i]);
    return diff == 0;
}

}  // namespace ember::platform
