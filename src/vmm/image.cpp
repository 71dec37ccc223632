// image.cpp - see image.h. libarchive reads the tar streams (and their
// compression), nlohmann-json the image's JSON documents, OpenSSL the
// digests; this file only applies the OCI rules.
#include "vmm/image.h"

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "vmm/image_libs.h"

namespace ember {

namespace {

using json = nlohmann::json;

// The libraries, loaded (image_libs.h): every path that calls them starts
// at open_tar, tar_directory or sha256_hex, which load them first.
const ImageLibs& lib() { return **image_libs(); }

struct ArchiveDeleter {
    void operator()(archive* a) const { lib().archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

// libarchive's last error; it may have none to give (NULL).
std::string archive_error(archive* a) {
    const char* e = lib().archive_error_string(a);
    return e ? e : "malformed archive";
}

Result<ArchivePtr> open_tar(std::span<const uint8_t> data) {
    if (auto l = image_libs(); !l) return l.status();
    ArchivePtr a(lib().archive_read_new());
    if (!a) return Status::internal("libarchive: out of memory");
    lib().archive_read_support_filter_all(a.get());
    lib().archive_read_support_format_tar(a.get());
    if (lib().archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK)
        return Status::corruption("not a tar archive: " + archive_error(a.get()));
    return a;
}

std::string dir_of(const std::string& p) {
    const auto s = p.rfind('/');
    return s == std::string::npos ? "" : p.substr(0, s);
}
std::string base_of(const std::string& p) {
    const auto s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

// Archive names: "./usr/bin/x", "usr/bin/x/", "/usr/bin/x" all name
// usr/bin/x; ".." is refused (Writer rejects it too, with less to say).
Result<std::string> entry_path(archive_entry* e) {
    const char* raw = lib().archive_entry_pathname(e);
    if (!raw) return Status::corruption("an entry without a name");
    std::string p = raw;
    while (!p.empty() && p.back() == '/') p.pop_back();
    for (size_t i = 0; i <= p.size();) {
        const size_t j = std::min(p.find('/', i), p.size());
        if (p.compare(i, j - i, "..") == 0 && j - i == 2)
            return Status::corruption("entry '" + p + "' leaves the root with '..'");
        i = j + 1;
    }
    return p;
}

constexpr const char* kWhiteout = ".wh.";
constexpr const char* kOpaque = ".wh..wh..opq";

// Whiteouts hide what the layers below have: applied before the layer's
// own entries, so that they never hide a sibling from the same layer.
Status apply_whiteouts(cpio::Writer& w, std::span<const uint8_t> tar) {
    auto a = open_tar(tar);
    if (!a) return a.status();
    archive_entry* e;
    int r;
    while ((r = lib().archive_read_next_header(a->get(), &e)) == ARCHIVE_OK) {
        auto p = entry_path(e);
        if (!p) return p.status();
        const std::string base = base_of(*p);
        if (base.rfind(kWhiteout, 0) != 0) continue;
        const std::string dir = dir_of(*p);
        if (base == kOpaque) {
            if (w.contains(dir)) (void)w.clear_dir(dir);
        } else if (base.size() > std::strlen(kWhiteout)) {
            const std::string victim = (dir.empty() ? "" : dir + "/") + base.substr(4);
            if (!w.remove(victim)) return Status::corruption("bad whiteout '" + *p + "'");
        }
    }
    if (r != ARCHIVE_EOF) return Status::corruption("tar: " + archive_error(a->get()));
    return Status::ok();
}

// Adds one entry; a path that exists with another type is replaced, as an
// upper layer's entry replaces a lower one's.
bool add_replacing(cpio::Writer& w, const std::string& p, unsigned type, uint32_t mode,
                   std::span<const uint8_t> data, const std::string& link, uint32_t mtime) {
    auto add = [&] {
        switch (type) {
            case AE_IFDIR:
                return w.add_dir(p, mode, mtime);
            case AE_IFLNK:
                return w.add_symlink(p, link, mtime);
            default:
                return w.add_file(p, data, mode, mtime);
        }
    };
    if (add()) return true;
    if (!w.contains(p)) return false;
    if (type == AE_IFDIR) return false;  // never replace a directory's subtree by a dir
    (void)w.remove(p);
    return add();
}

Result<std::vector<uint8_t>> read_host_file(const std::string& path, uint64_t max) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::not_found(path + ": no such file");
    if (static_cast<uint64_t>(st.st_size) > max)
        return Status::resource_exhausted(path + ": larger than the image size limit");
    std::ifstream f(path, std::ios::binary);
    if (!f) return Status::io_error(path + ": cannot be read");
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f),
                                std::istreambuf_iterator<char>());
}

std::string sha256_hex(std::span<const uint8_t> data) {
    if (!image_libs()) return "";  // matches no digest
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    lib().EVP_Digest(data.data(), data.size(), md, &len, lib().EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < len; ++i) {
        s += hex[md[i] >> 4];
        s += hex[md[i] & 15];
    }
    return s;
}

// A fuzzing build (tests/fuzz/fuzz_oci.cpp) takes any digest, so that the
// fuzzer reaches the manifests and layers behind the check.
bool digest_ok(const std::string& computed, const std::string& named) {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    (void)computed;
    (void)named;
    return true;
#else
    return computed == named;
#endif
}

// The blobs of an image: files under a directory, or the members of a tar.
class Blobs {
  public:
    static Result<Blobs> open(const std::string& path, const ImageLimits& lim) {
        struct stat st;
        if (::stat(path.c_str(), &st) != 0) return Status::not_found(path + ": no such file");
        if (S_ISDIR(st.st_mode)) {
            Blobs b;
            b.limits_ = lim;
            b.dir_ = path;
            return b;
        }
        auto data = read_host_file(path, lim.max_blob_bytes);
        if (!data) return data.status();
        return from_archive(*data, lim);
    }

    // The members of an image archive (an OCI layout or `docker save` tar).
    static Result<Blobs> from_archive(std::span<const uint8_t> data, const ImageLimits& lim) {
        Blobs b;
        b.limits_ = lim;
        if (data.size() > lim.max_blob_bytes)
            return Status::resource_exhausted("the image archive is larger than its limit");
        auto a = open_tar(data);
        if (!a) return a.status();
        archive_entry* e;
        int r;
        uint64_t total = 0;
        while ((r = lib().archive_read_next_header(a->get(), &e)) == ARCHIVE_OK) {
            if (lib().archive_entry_filetype(e) != AE_IFREG) continue;
            auto p = entry_path(e);
            if (!p) return p.status();
            while (p->rfind("./", 0) == 0) p->erase(0, 2);
            const la_int64_t size = lib().archive_entry_size(e);
            total += static_cast<uint64_t>(size < 0 ? 0 : size);
            if (size < 0 || total > lim.max_blob_bytes)
                return Status::resource_exhausted("the image archive is larger than its limit");
            std::vector<uint8_t> content(static_cast<size_t>(size));
            if (size > 0 &&
                lib().archive_read_data(a->get(), content.data(), content.size()) != size)
                return Status::corruption("the image archive: member " + *p + " is truncated");
            b.members_[*p] = std::move(content);
        }
        if (r != ARCHIVE_EOF)
            return Status::corruption("the image archive: " + archive_error(a->get()));
        return b;
    }

    bool has(const std::string& rel) const {
        struct stat st;
        return dir_.empty() ? members_.count(rel) != 0
                            : ::stat((dir_ + "/" + rel).c_str(), &st) == 0;
    }

    Result<std::vector<uint8_t>> get(const std::string& rel) const {
        if (rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos)
            return Status::corruption("the image names a file outside itself: '" + rel + "'");
        if (!dir_.empty()) return read_host_file(dir_ + "/" + rel, limits_.max_blob_bytes);
        const auto it = members_.find(rel);
        if (it == members_.end()) return Status::corruption("the image lacks " + rel);
        return it->second;
    }

    // A blob named by its digest, checked against it.
    Result<std::vector<uint8_t>> by_digest(const json& descriptor) const {
        if (!descriptor.is_object() || !descriptor.contains("digest") ||
            !descriptor["digest"].is_string())
            return Status::corruption("a descriptor without a digest");
        const std::string d = descriptor["digest"].get<std::string>();
        if (d.rfind("sha256:", 0) != 0 || d.size() != 71 ||
            d.find_first_not_of("0123456789abcdef", 7) != std::string::npos)
            return Status::unsupported("digest '" + d + "' is not sha256:<64 hex digits>");
        auto blob = get("blobs/sha256/" + d.substr(7));
        if (!blob) return blob.status();
        if (!digest_ok(sha256_hex(*blob), d.substr(7)))
            return Status::corruption("blob " + d + " does not match its digest");
        return blob;
    }

  private:
    std::string dir_;
    std::map<std::string, std::vector<uint8_t>> members_;
    ImageLimits limits_;
};

Result<json> parse_json(const std::vector<uint8_t>& text, const std::string& what) {
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Status::corruption(what + " is not valid JSON");
    return j;
}

Status strings(const json& j, const char* key, std::vector<std::string>* out) {
    if (!j.contains(key) || j[key].is_null()) return Status::ok();
    if (!j[key].is_array()) return Status::corruption(std::string(key) + " is not an array");
    for (const auto& v : j[key]) {
        if (!v.is_string()) return Status::corruption(std::string(key) + " holds a non-string");
        out->push_back(v.get<std::string>());
    }
    return Status::ok();
}

Result<ImageConfig> parse_config(const json& doc) {
    if (!doc.is_object()) return Status::corruption("the image config is not an object");
    if (doc.contains("architecture") && doc["architecture"] != "amd64")
        return Status::unsupported("the image is for " + doc["architecture"].dump() +
                                   ", not amd64");
    ImageConfig c;
    if (!doc.contains("config") || doc["config"].is_null()) return c;
    const json& cfg = doc["config"];
    if (!cfg.is_object()) return Status::corruption("the image config's config is not an object");
    for (auto [key, out] : {std::pair{"Entrypoint", &c.entrypoint}, std::pair{"Cmd", &c.cmd},
                            std::pair{"Env", &c.env}})
        if (auto st = strings(cfg, key, out); !st) return st;
    for (auto [key, out] : {std::pair{"WorkingDir", &c.working_dir}, std::pair{"User", &c.user}}) {
        if (!cfg.contains(key) || cfg[key].is_null()) continue;
        if (!cfg[key].is_string()) return Status::corruption(std::string(key) + " is not a string");
        *out = cfg[key].get<std::string>();
    }
    if (cfg.contains("ExposedPorts") && cfg["ExposedPorts"].is_object()) {
        for (const auto& [spec, _] : cfg["ExposedPorts"].items()) {
            const auto slash = spec.find('/');
            const std::string num = spec.substr(0, slash);
            const std::string proto = slash == std::string::npos ? "tcp" : spec.substr(slash + 1);
            if (proto != "tcp" || num.empty() || num.size() > 5 ||
                num.find_first_not_of("0123456789") != std::string::npos || std::stoul(num) == 0 ||
                std::stoul(num) > 65535)
                continue;
            c.exposed_ports.push_back(static_cast<uint16_t>(std::stoul(num)));
        }
    }
    return c;
}

// The manifest for linux/amd64 in an OCI index (one level of nested index).
Result<json> pick_manifest(const Blobs& b, const json& index, int depth = 0) {
    if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array() ||
        index["manifests"].empty())
        return Status::corruption("index.json lists no manifest");
    const json* chosen = nullptr;
    for (const auto& m : index["manifests"]) {
        if (!m.is_object()) return Status::corruption("index.json: a manifest is not an object");
        const json p = m.value("platform", json::object());
        if (!p.is_object()) continue;
        if ((!p.contains("architecture") || p["architecture"] == "amd64") &&
            (!p.contains("os") || p["os"] == "linux")) {
            chosen = &m;
            break;
        }
    }
    if (!chosen) return Status::unsupported("the image has no linux/amd64 manifest");
    auto blob = b.by_digest(*chosen);
    if (!blob) return blob.status();
    auto doc = parse_json(*blob, "the manifest");
    if (!doc) return doc.status();
    if (doc->is_object() && doc->contains("manifests")) {
        if (depth > 0) return Status::unsupported("image indexes nested more than once");
        return pick_manifest(b, *doc, depth + 1);
    }
    return doc;
}

}  // namespace

bool looks_like_tar(std::span<const uint8_t> d) {
    auto starts = [&](std::initializer_list<uint8_t> m) {
        return d.size() >= m.size() && std::equal(m.begin(), m.end(), d.begin());
    };
    if (starts({0x1f, 0x8b}) || starts({0x28, 0xb5, 0x2f, 0xfd}) ||
        starts({0xfd, '7', 'z', 'X', 'Z', 0}) || starts({'B', 'Z', 'h'}))
        return true;
    return d.size() >= 262 && std::memcmp(d.data() + 257, "ustar", 5) == 0;
}

Status apply_tar_layer(cpio::Writer& w, std::span<const uint8_t> tar, const ImageLimits& limits,
                       LayerBudget* budget) {
    if (auto st = apply_whiteouts(w, tar); !st) return st;
    auto a = open_tar(tar);
    if (!a) return a.status();
    archive_entry* e;
    int r;
    while ((r = lib().archive_read_next_header(a->get(), &e)) == ARCHIVE_OK) {
        if (++budget->entries > limits.max_entries)
            return Status::resource_exhausted("more than " + std::to_string(limits.max_entries) +
                                              " entries");
        auto p = entry_path(e);
        if (!p) return p.status();
        if (base_of(*p).rfind(kWhiteout, 0) == 0) continue;
        const unsigned type = lib().archive_entry_filetype(e);
        const uint32_t mode = lib().archive_entry_perm(e) & 07777;
        const auto mtime = static_cast<uint32_t>(lib().archive_entry_mtime(e));
        std::vector<uint8_t> data;
        std::string link;
        if (const char* hard = lib().archive_entry_hardlink(e)) {
            std::string target = hard;
            while (!target.empty() && target.back() == '/') target.pop_back();
            const std::vector<uint8_t>* src = w.file_at(target);
            if (!src) return Status::corruption("hard link '" + *p + "' to a missing file");
            data = *src;
        } else if (type == AE_IFREG) {
            const la_int64_t size = lib().archive_entry_size(e);
            if (size < 0 || static_cast<uint64_t>(size) >
                                limits.max_bytes - std::min(limits.max_bytes, budget->bytes))
                return Status::resource_exhausted("the files exceed " +
                                                  std::to_string(limits.max_bytes >> 20) + " MiB");
            data.resize(static_cast<size_t>(size));
            if (size > 0 && lib().archive_read_data(a->get(), data.data(), data.size()) != size)
                return Status::corruption("'" + *p + "' is truncated");
        } else if (type == AE_IFLNK) {
            const char* t = lib().archive_entry_symlink(e);
            if (!t || !*t) return Status::corruption("symlink '" + *p + "' without a target");
            link = t;
        } else if (type != AE_IFDIR) {
            continue;  // devices, fifos, sockets: nothing a guest can use
        }
        budget->bytes += data.size();
        if (p->empty()) continue;  // the root itself
        const unsigned kind = lib().archive_entry_hardlink(e) ? AE_IFREG : type;
        if (!add_replacing(w, *p, kind, mode, data, link, mtime))
            return Status::corruption("'" + *p +
                                      "' cannot be placed (its parent is not a directory)");
    }
    if (r != ARCHIVE_EOF) return Status::corruption("tar: " + archive_error(a->get()));
    return Status::ok();
}

namespace {

Result<ImageConfig> apply_image(const Blobs* blobs, const std::string& what, cpio::Writer& w,
                                const ImageLimits& limits) {
    std::vector<std::vector<uint8_t>> layers;
    json config_doc;
    if (blobs->has("manifest.json")) {
        // docker save: [{"Config": "...", "Layers": ["...", ...]}].
        auto text = blobs->get("manifest.json");
        if (!text) return text.status();
        auto doc = parse_json(*text, "manifest.json");
        if (!doc) return doc.status();
        if (!doc->is_array() || doc->empty() || !(*doc)[0].is_object() ||
            !(*doc)[0].contains("Config") || !(*doc)[0]["Config"].is_string() ||
            !(*doc)[0].contains("Layers") || !(*doc)[0]["Layers"].is_array())
            return Status::corruption("manifest.json is not a docker save manifest");
        const json& m = (*doc)[0];
        auto cfg = blobs->get(m["Config"].get<std::string>());
        if (!cfg) return cfg.status();
        auto cdoc = parse_json(*cfg, "the image config");
        if (!cdoc) return cdoc.status();
        config_doc = std::move(*cdoc);
        for (const auto& l : m["Layers"]) {
            if (!l.is_string()) return Status::corruption("manifest.json: a layer is not a path");
            auto layer = blobs->get(l.get<std::string>());
            if (!layer) return layer.status();
            layers.push_back(std::move(*layer));
        }
    } else if (blobs->has("index.json")) {
        auto text = blobs->get("index.json");
        if (!text) return text.status();
        auto index = parse_json(*text, "index.json");
        if (!index) return index.status();
        auto manifest = pick_manifest(*blobs, *index);
        if (!manifest) return manifest.status();
        if (!manifest->is_object() || !manifest->contains("config") ||
            !manifest->contains("layers") || !(*manifest)["layers"].is_array())
            return Status::corruption("the manifest has no config or layers");
        auto cfg = blobs->by_digest((*manifest)["config"]);
        if (!cfg) return cfg.status();
        auto cdoc = parse_json(*cfg, "the image config");
        if (!cdoc) return cdoc.status();
        config_doc = std::move(*cdoc);
        for (const auto& l : (*manifest)["layers"]) {
            auto layer = blobs->by_digest(l);
            if (!layer) return layer.status();
            layers.push_back(std::move(*layer));
        }
    } else {
        return Status::invalid_argument(what +
                                        ": not a container image (no index.json or manifest.json)");
    }
    auto config = parse_config(config_doc);
    if (!config) return config.status();
    LayerBudget budget;
    for (size_t i = 0; i < layers.size(); ++i)
        if (auto st = apply_tar_layer(w, layers[i], limits, &budget); !st)
            return Status(st.code(), "layer " + std::to_string(i + 1) + ": " + st.message());
    return config;
}

}  // namespace

std::vector<std::string> image_argv(const ImageConfig& c, const std::vector<std::string>& args) {
    std::vector<std::string> argv = c.entrypoint;
    const auto& tail = args.empty() ? c.cmd : args;
    argv.insert(argv.end(), tail.begin(), tail.end());
    return argv;
}

std::vector<std::string> image_env(const ImageConfig& c, const std::vector<std::string>& over) {
    std::vector<std::string> env = c.env;
    for (const auto& e : over) {
        const std::string key = e.substr(0, e.find('=') + 1);
        std::erase_if(env, [&](const std::string& b) { return b.rfind(key, 0) == 0; });
        env.push_back(e);
    }
    return env;
}

Result<ImageConfig> load_image(const std::string& path, cpio::Writer& w,
                               const ImageLimits& limits) {
    auto blobs = Blobs::open(path, limits);
    if (!blobs) return blobs.status();
    return apply_image(&*blobs, path, w, limits);
}

Result<ImageConfig> load_image_archive(std::span<const uint8_t> archive, cpio::Writer& w,
                                       const ImageLimits& limits) {
    auto blobs = Blobs::from_archive(archive, limits);
    if (!blobs) return blobs.status();
    return apply_image(&*blobs, "the image", w, limits);
}

namespace {

// Appends what libarchive writes to a vector.
la_ssize_t append_to_vector(archive*, void* v, const void* p, size_t n) {
    auto* out = static_cast<std::vector<uint8_t>*>(v);
    out->insert(out->end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    return static_cast<la_ssize_t>(n);
}

// An image layout directory as an uncompressed tar of its regular files.
Result<std::vector<uint8_t>> tar_directory(const std::string& dir, uint64_t max) {
    namespace fs = std::filesystem;
    std::vector<uint8_t> out;
    if (auto l = image_libs(); !l) return l.status();
    std::unique_ptr<archive, int (*)(archive*)> a(lib().archive_write_new(),
                                                  lib().archive_write_free);
    if (!a || lib().archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
        lib().archive_write_open(a.get(), &out, nullptr, append_to_vector, nullptr) != ARCHIVE_OK)
        return Status::internal("cannot start a tar archive");
    std::error_code ec;
    uint64_t total = 0;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const std::string rel = fs::relative(it->path(), dir, ec).string();
        auto data = read_host_file(it->path().string(), max);
        if (!data) return data.status();
        total += data->size();
        if (total > max) return Status::resource_exhausted(dir + ": larger than the image limit");
        std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(lib().archive_entry_new(),
                                                                   lib().archive_entry_free);
        lib().archive_entry_set_pathname(e.get(), rel.c_str());
        lib().archive_entry_set_filetype(e.get(), AE_IFREG);
        lib().archive_entry_set_perm(e.get(), 0644);
        lib().archive_entry_set_size(e.get(), static_cast<la_int64_t>(data->size()));
        if (lib().archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
            lib().archive_write_data(a.get(), data->data(), data->size()) !=
                static_cast<la_ssize_t>(data->size()))
            return Status::internal("cannot write " + rel + " into a tar archive");
    }
    if (ec) return Status::io_error(dir + ": " + ec.message());
    if (lib().archive_write_close(a.get()) != ARCHIVE_OK)
        return Status::internal("cannot finish a tar archive");
    return out;
}

}  // namespace

Result<std::vector<uint8_t>> read_image_archive(const std::string& path,
                                                const ImageLimits& limits) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::not_found(path + ": no such file");
    auto data = S_ISDIR(st.st_mode) ? tar_directory(path, limits.max_blob_bytes)
                                    : read_host_file(path, limits.max_blob_bytes);
    if (!data) return data.status();
    // Checked now, so that a wrong file is refused before it is uploaded.
    cpio::Writer scratch;
    if (auto c = load_image_archive(*data, scratch, limits); !c) return c.status();
    return data;
}

}  // namespace ember
