// image_libs.h - libarchive and OpenSSL's sha256, loaded the first time an
// image or tar archive is read (image.cpp).
//
// Linking them would load them, and what they pull in (libxml2, ICU,
// compressors: about twenty libraries), into every ember-vm process, which
// cost ~2 ms of a run's start-up measured here; most runs never read an
// archive. The Debian package depends on libarchive13 by name
// (packaging/CMakeLists.txt), since shlibdeps no longer sees it.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "common/result.h"

namespace ember {

// clang-format off
#define EMBER_IMAGE_LIB_FUNCTIONS(X) \
    X(archive_read_new) \
    X(archive_read_free) \
    X(archive_read_support_filter_all) \
    X(archive_read_support_format_tar) \
    X(archive_read_open_memory) \
    X(archive_read_next_header) \
    X(archive_read_data) \
    X(archive_error_string) \
    X(archive_write_new) \
    X(archive_write_free) \
    X(archive_write_set_format_pax_restricted) \
    X(archive_write_open) \
    X(archive_write_header) \
    X(archive_write_data) \
    X(archive_write_close) \
    X(archive_entry_new) \
    X(archive_entry_free) \
    X(archive_entry_pathname) \
    X(archive_entry_filetype) \
    X(archive_entry_size) \
    X(archive_entry_perm) \
    X(archive_entry_mtime) \
    X(archive_entry_hardlink) \
    X(archive_entry_symlink) \
    X(archive_entry_set_pathname) \
    X(archive_entry_set_filetype) \
    X(archive_entry_set_perm) \
    X(archive_entry_set_size)
#define EMBER_CRYPTO_LIB_FUNCTIONS(X) X(EVP_Digest) X(EVP_sha256)
// clang-format on

// The functions image.cpp calls, resolved from the loaded libraries.
struct ImageLibs {
#define EMBER_IMAGE_LIB_MEMBER(name) decltype(&::name) name = nullptr;
    EMBER_IMAGE_LIB_FUNCTIONS(EMBER_IMAGE_LIB_MEMBER)
    EMBER_CRYPTO_LIB_FUNCTIONS(EMBER_IMAGE_LIB_MEMBER)
#undef EMBER_IMAGE_LIB_MEMBER
};

// Loads them once (thread-safe); later calls return the same table. The
// error names the library that is missing.
Result<const ImageLibs*> image_libs();

}  // namespace ember
