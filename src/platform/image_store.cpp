#include "platform/image_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "platform/service_spec.h"

namespace ember::platform {

std::string sha256_hex(const void* data, size_t len) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_Digest(data, len, md, &md_len, EVP_sha256(), nullptr);
    static const char* kHex = "0123456789abcdef";
    std::string out;
    out.reserve(md_len * 2);
    for (unsigned i = 0; i < md_len; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 15];
    }
    return out;
}

namespace {

Status write_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return Status::from_errno("write");
        p += w;
        n -= static_cast<size_t>(w);
    }
    return Status::ok();
}

// put() writes <sha256>.tmp.<pid>.<n> next to the blob, then renames it.
bool is_temp_name(const std::string& name) {
    return name.size() > 69 && name.compare(64, 5, ".tmp.") == 0 &&
           is_sha256_hex(name.substr(0, 64));
}

}  // namespace

Result<std::string> ImageStore::put(std::string_view data) {
    const std::string sha = sha256_hex(data.data(), data.size());
    if (exists(sha)) return sha;
    const std::string final_path = path_of(sha);
    const std::string tmp = final_path + ".tmp." + std::to_string(getpid()) + "." +
                            std::to_string(reinterpret_cast<uintptr_t>(&data));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::from_errno("image store: create " + tmp);
    Status st = write_all(fd, data.data(), data.size());
    if (st && ::fsync(fd) != 0) st = Status::from_errno("fsync");
    ::close(fd);
    if (st && ::rename(tmp.c_str(), final_path.c_str()) != 0) st = Status::from_errno("rename");
    if (!st) {
        ::unlink(tmp.c_str());
        return Status(st.code(), "image store: " + st.message());
    }
    // The rename is durable once the directory is synced.
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
    return sha;
}

Result<int> ImageStore::open(const std::string& sha256) const {
    if (!is_sha256_hex(sha256))
        return Status::invalid_argument("not a sha256: '" + sha256.substr(0, 80) + "'");
    const int fd = ::open(path_of(sha256).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno("image " + sha256.substr(0, 12));
    return fd;
}

Result<std::vector<uint8_t>> ImageStore::read_fd(int fd, const std::string& sha256,
                                                 uint64_t max_size) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return Status::corruption("image " + sha256.substr(0, 12) + ": not a regular file");
    if (static_cast<uint64_t>(st.st_size) > max_size)
        return Status::resource_exhausted("image " + sha256.substr(0, 12) + " is larger than " +
                                          std::to_string(max_size) + " bytes");
    std::vector<uint8_t> out(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n =
            ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Status::io_error("image " + sha256.substr(0, 12) + ": short read");
        done += static_cast<size_t>(n);
    }
    if (sha256_hex(out.data(), out.size()) != sha256)
        return Status::corruption("image " + sha256.substr(0, 12) +
                                  " is damaged: its content does not match its sha256");
    return out;
}

Result<std::vector<uint8_t>> ImageStore::get(const std::string& sha256, uint64_t max_size) const {
    auto fd = open(sha256);
    if (!fd) return fd.status();
    auto out = read_fd(*fd, sha256, max_size);
    ::close(*fd);
    return out;
}

bool ImageStore::exists(const std::string& sha256) const {
    struct stat st;
    return is_sha256_hex(sha256) && ::stat(path_of(sha256).c_str(), &st) == 0 &&
           S_ISREG(st.st_mode);
}

Status ImageStore::remove(const std::string& sha256) {
    if (!is_sha256_hex(sha256)) return Status::invalid_argument("not a sha256");
    if (::unlink(path_of(sha256).c_str()) != 0 && errno != ENOENT)
        return Status::from_errno("unlink image");
    return Status::ok();
}

size_t ImageStore::remove_temp_files() {
    DIR* d = ::opendir(dir_.c_str());
    if (!d) return 0;
    size_t n = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (is_temp_name(name) && ::unlink((dir_ + "/" + name).c_str()) == 0) ++n;
    }
    ::closedir(d);
    return n;
}

}  // namespace ember::platform
