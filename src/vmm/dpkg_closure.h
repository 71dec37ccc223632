// dpkg_closure.h - what a Debian program needs besides its shared
// libraries (python3's standard library, node's modules): the files of the
// package that owns it and of the packages it depends on, read from this
// host's dpkg database (/var/lib/dpkg/status and info/*.list). The database
// is the host's own and trusted as much as the host's files; it is still
// parsed with bounds (sizes of packages, files and bytes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember {

struct DpkgClosure {
    std::vector<std::string> packages;  // owner first, then its dependencies
    // Every path the packages list (directories, files, symlinks), each once,
    // in order, but documentation (/usr/share/doc, man, info, locale,
    // lintian).
    std::vector<std::string> paths;
};

// The closure of the package owning `program` (a host path; also looked up
// by its real path, so /bin/python3 and /usr/bin/python3.11 are found) over
// Depends, Pre-Depends and Recommends (python3.11-minimal recommends the
// rest of its standard library), alternatives resolved to the first one
// installed. Nothing (an empty closure, no error) when this host has no dpkg
// database or no package owns the program. admin_dir is the dpkg database
// (tests use their own). Bounded: at most 512 packages and 200,000 paths.
Result<DpkgClosure> dpkg_closure(const std::string& program,
                                 const std::string& admin_dir = "/var/lib/dpkg");

}  // namespace ember
