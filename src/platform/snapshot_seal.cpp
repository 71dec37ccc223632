#include "platform/snapshot_seal.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "platform/data_dir.h"

namespace ember::platform {

namespace {

constexpr uint64_t kPage = 4096;
constexpr size_t kChunk = 1 << 20;  // bytes read at a time
constexpr char kDomain[] = "ember snapshot seal v1";
constexpr char kHex[] = "0123456789abcdef";

template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& b) {
    std::string s;
    for (uint8_t c : b) {
        s += kHex[c >> 4];
        s += kHex[c & 15];
    }
    return s;
}

template <size_t N>
bool from_hex(const std::string& s, std::array<uint8_t, N>* out) {
    if (s.size() != 2 * N) return false;
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (size_t i = 0; i < N; ++i) {
        const int hi = nib(s[2 * i]), lo = nib(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return true;
}

bool all_zero(const uint8_t* p, size_t n) {
    return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

void put_u64(uint8_t* out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

// HMAC-SHA256 over a stream of updates (OpenSSL 3 EVP_MAC).
class Hmac {
  public:
    explicit Hmac(const SealKey& key) {
        mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        ctx_ = mac_ ? EVP_MAC_CTX_new(mac_) : nullptr;
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
        ok_ = ctx_ && EVP_MAC_init(ctx_, key.data(), key.size(), params) == 1;
    }
    ~Hmac() {
        EVP_MAC_CTX_free(ctx_);
        EVP_MAC_free(mac_);
    }
    void update(const void* p, size_t n) {
        ok_ = ok_ && EVP_MAC_update(ctx_, static_cast<const unsigned char*>(p), n) == 1;
    }
    void update_u64(uint64_t v) {
        uint8_t b[8];
        put_u64(b, v);
        update(b, sizeof b);
    }
    bool final(std::array<uint8_t, 32>* out) {
        size_t n = 0;
        ok_ = ok_ && EVP_MAC_final(ctx_, out->data(), &n, out->size()) == 1 && n == out->size();
        return ok_;
    }

  private:
    EVP_MAC* mac_ = nullptr;
    EVP_MAC_CTX* ctx_ = nullptr;
    bool ok_ = false;
};

std::string base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string seal_key_path(const std::string& data_dir) { return data_dir + "/snapshot.key"; }
std::string seal_path(const std::string& snapshot_path) { return snapshot_path + ".seal"; }

Result<SealKey> load_or_create_seal_key(const std::string& path) {
    // The same file discipline as the API token: 32 random bytes in hex,
    // mode 0600, refused when others can read it.
    auto hex = load_or_create_token(path);
    if (!hex) return hex.status();
    SealKey key;
    if (!from_hex(*hex, &key))
        return Status::corruption(path + ": not a snapshot key (64 hex digits expected)");
    return key;
}

Result<std::array<uint8_t, 32>> compute_seal(const SealKey& key, const std::string& snapshot_path) {
    const int fd = ::open(snapshot_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno("cannot open " + snapshot_path);
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return Status::invalid_argument(snapshot_path + ": not a regular file");
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    Hmac mac(key);
    mac.update(kDomain, sizeof kDomain);
    const std::string name = base_name(snapshot_path);
    mac.update_u64(name.size());
    mac.update(name.data(), name.size());
    mac.update_u64(size);
    std::vector<uint8_t> buf(kChunk);
    uint64_t next_page = 0;  // pages below were hashed (or were zero)
    Status err = Status::ok();
    while (next_page * kPage < size && err) {
        // The next data extent at or after next_page; a file system without
        // SEEK_DATA reports the whole file as data.
        off_t data = ::lseek(fd, static_cast<off_t>(next_page * kPage), SEEK_DATA);
        if (data < 0) {
            if (errno != ENXIO) err = Status::from_errno("SEEK_DATA in " + snapshot_path);
            break;
        }
        off_t hole = ::lseek(fd, data, SEEK_HOLE);
        if (hole < 0) hole = static_cast<off_t>(size);
        uint64_t page = std::max(next_page, static_cast<uint64_t>(data) / kPage);
        const uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
        while (page * kPage < end) {
            const uint64_t off = page * kPage;
            const size_t want = static_cast<size_t>(
                std::min<uint64_t>(kChunk, ((end - off + kPage - 1) / kPage) * kPage));
            const size_t len = static_cast<size_t>(std::min<uint64_t>(want, size - off));
            const ssize_t n = ::pread(fd, buf.data(), len, static_cast<off_t>(off));
            if (n != static_cast<ssize_t>(len)) {
                err = n < 0 ? Status::from_errno("cannot read " + snapshot_path)
                            : Status::corruption(snapshot_path + " changed while being read");
                break;
            }
            for (size_t p = 0; p < len; p += kPage) {
                const size_t plen = std::min<size_t>(kPage, len - p);
                if (all_zero(buf.data() + p, plen)) continue;
                mac.update_u64(page + p / kPage);
                mac.update(buf.data() + p, plen);
            }
            page += (len + kPage - 1) / kPage;
        }
        next_page = page;
    }
    ::close(fd);
    if (!err) return err;
    std::array<uint8_t, 32> out;
    if (!mac.final(&out)) return Status::internal("HMAC-SHA256 failed (OpenSSL)");
    return out;
}

Status write_seal(const SealKey& key, const std::string& snapshot_path) {
    auto mac = compute_seal(key, snapshot_path);
    if (!mac) return mac.status();
    const std::string path = seal_path(snapshot_path), tmp = path + ".tmp";
    const std::string text = to_hex(*mac) + "\n";
    ::unlink(tmp.c_str());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Status::from_errno("cannot create " + tmp);
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        const Status st = Status::from_errno("cannot write " + path);
        ::unlink(tmp.c_str());
        return st;
    }
    return Status::ok();
}

Status verify_seal(const SealKey& key, const std::string& snapshot_path) {
    const std::string path = seal_path(snapshot_path);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return Status::corruption("snapshot has no seal (" + path +
                                      "): not written by this emberd");
        return Status::from_errno("cannot open " + path);
    }
    char buf[80];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    std::array<uint8_t, 32> want;
    if (n != 65 || buf[64] != '\n' || !from_hex(std::string(buf, 64), &want))
        return Status::corruption(path + ": not a snapshot seal");
    auto have = compute_seal(key, snapshot_path);
    if (!have) return have.status();
    if (CRYPTO_memcmp(have->data(), want.data(), want.size()) != 0)
        return Status::corruption(
            "snapshot seal does not match: the file was changed outside emberd");
    return Status::ok();
}

Result<std::shared_ptr<const Prepared>> SealedGuestFactory::prepare(
    const ServiceSpec& spec, const std::string& snapshot_path, const ConsoleFn& console) {
    // A seal left from an earlier attempt must not outlive its snapshot.
    ::unlink(seal_path(snapshot_path).c_str());
    auto p = inner_.prepare(spec, snapshot_path, console);
    if (!p) return p;
    if (auto st = write_seal(key_, snapshot_path); !st)
        return Status(st.code(), "sealing the snapshot: " + st.message());
    return p;
}

Result<std::shared_ptr<const Prepared>> SealedGuestFactory::open(const ServiceSpec& spec,
                                                                 const std::string& snapshot_path) {
    if (auto st = verify_seal(key_, snapshot_path); !st) return st;
    return inner_.open(spec, snapshot_path);
}

namespace {

// An instance whose suspended snapshot (Guest::suspend) is sealed once
// written; every other call passes through.
class SealedGuest : public Guest {
  public:
    SealedGuest(std::unique_ptr<Guest> inner, const SealKey& key)
        : inner_(std::move(inner)), key_(key) {}
    void adopt(int fd, uint16_t port) override { inner_->adopt(fd, port); }
    void post(int fd, uint16_t port) override { inner_->post(fd, port); }
    void stop() override { inner_->stop(); }
    void suspend(const std::string& path) override {
        {
            std::lock_guard lock(mu_);
            path_ = path;
        }
        // A seal of an earlier suspension must not outlive its file.
        ::unlink(seal_path(path).c_str());
        inner_->suspend(path);
    }
    bool start(std::function<void()> ended) override { return inner_->start(std::move(ended)); }
    InstanceEnd run() override {
        InstanceEnd e = inner_->run();
        if (!e.suspended) return e;
        std::string path;
        {
            std::lock_guard lock(mu_);
            path = path_;
        }
        if (auto st = write_seal(key_, path); !st) {
            ::unlink(path.c_str());
            e.suspended = false;
            e.description += "; sealing the suspended snapshot failed: " + st.message();
        }
        return e;
    }
    bool reused() const override { return inner_->reused(); }
    std::pair<uintptr_t, size_t> memory_range() const override { return inner_->memory_range(); }
    int memory_pid() const override { return inner_->memory_pid(); }

  private:
    std::unique_ptr<Guest> inner_;
    const SealKey key_;
    std::mutex mu_;
    std::string path_;
};

}  // namespace

Result<std::unique_ptr<Guest>> SealedGuestFactory::restore(const std::shared_ptr<const Prepared>& p,
                                                           const ConsoleFn& console) {
    auto g = inner_.restore(p, console);
    if (!g) return g;
    return std::unique_ptr<Guest>(std::make_unique<SealedGuest>(std::move(*g), key_));
}

Result<std::unique_ptr<Guest>> SealedGuestFactory::resume(const std::shared_ptr<const Prepared>& p,
                                                          const std::string& path,
                                                          const ConsoleFn& console) {
    if (auto st = verify_seal(key_, path); !st) return st;
    auto g = inner_.resume(p, path, console);
    if (!g) return g;
    return std::unique_ptr<Guest>(std::make_unique<SealedGuest>(std::move(*g), key_));
}

}  // namespace ember::platform
