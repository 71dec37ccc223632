// image_libs.cpp - see image_libs.h.
#include "vmm/image_libs.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace ember {
namespace {

// The sonames of Debian 12's libarchive13 and libssl3.
constexpr const char* kArchiveSoname = "libarchive.so.13";
constexpr const char* kCryptoSoname = "libcrypto.so.3";

Status load(ImageLibs* l) {
    void* ar = dlopen(kArchiveSoname, RTLD_NOW | RTLD_LOCAL);
    if (!ar)
        return Status::unsupported(std::string("reading archives needs ") + kArchiveSoname +
                                   " (Debian's libarchive13): " + dlerror());
    void* crypto = dlopen(kCryptoSoname, RTLD_NOW | RTLD_LOCAL);
    if (!crypto)
        return Status::unsupported(std::string("reading images needs ") + kCryptoSoname +
                                   " (Debian's libssl3): " + dlerror());
        // The handles stay open for the life of the process.
#define EMBER_RESOLVE(handle, name)                                      \
    l->name = reinterpret_cast<decltype(&::name)>(dlsym(handle, #name)); \
    if (!l->name) return Status::unsupported(std::string(#name) + " missing from its library");
#define EMBER_RESOLVE_ARCHIVE(name) EMBER_RESOLVE(ar, name)
#define EMBER_RESOLVE_CRYPTO(name) EMBER_RESOLVE(crypto, name)
    EMBER_IMAGE_LIB_FUNCTIONS(EMBER_RESOLVE_ARCHIVE)
    EMBER_CRYPTO_LIB_FUNCTIONS(EMBER_RESOLVE_CRYPTO)
#undef EMBER_RESOLVE_CRYPTO
#undef EMBER_RESOLVE_ARCHIVE
#undef EMBER_RESOLVE
    return Status::ok();
}

}  // namespace

Result<const ImageLibs*> image_libs() {
    static ImageLibs libs;
    static Status status;
    static std::once_flag once;
    std::call_once(once, [] { status = load(&libs); });
    if (!status) return status;
    return &libs;
}

}  // namespace ember
