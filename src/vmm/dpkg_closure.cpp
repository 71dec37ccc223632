// dpkg_closure.cpp - see dpkg_closure.h.
#include "vmm/dpkg_closure.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

namespace ember {
namespace {

constexpr size_t kMaxPackages = 512;
constexpr size_t kMaxPaths = 200'000;
constexpr uint64_t kMaxDbFile = 256ull << 20;

struct Package {
    std::string name, arch;
    std::vector<std::vector<std::string>> deps;  // alternatives per dependency
};

bool read_text(const std::string& path, std::string* out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    f.seekg(0, std::ios::end);
    const auto size = f.tellg();
    if (size < 0 || static_cast<uint64_t>(size) > kMaxDbFile) return false;
    f.seekg(0);
    out->assign(static_cast<size_t>(size), '\0');
    return static_cast<bool>(f.read(out->data(), size));
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
}

// "a (>= 1) | b, c:any" -> {{a, b}, {c}}
std::vector<std::vector<std::string>> parse_deps(std::string_view v) {
    std::vector<std::vector<std::string>> out;
    std::stringstream all{std::string(v)};
    std::string dep;
    while (std::getline(all, dep, ',')) {
        std::vector<std::string> alts;
        std::stringstream ds(dep);
        std::string alt;
        while (std::getline(ds, alt, '|')) {
            std::string name = trim(alt);
            name = name.substr(0, name.find_first_of(" (:["));
            if (!name.empty()) alts.push_back(name);
        }
        if (!alts.empty()) out.push_back(std::move(alts));
    }
    return out;
}

// The installed packages of the status file, and who provides what.
void parse_status(const std::string& text, std::map<std::string, Package>* pkgs,
                  std::map<std::string, std::string>* provides) {
    std::stringstream in(text);
    std::string line, key;
    std::map<std::string, std::string> f;
    auto flush = [&] {
        if (f.count("Package") && f["Status"].find("install ok installed") != std::string::npos) {
            Package p{f["Package"], f["Architecture"], {}};
            for (const char* k : {"Pre-Depends", "Depends", "Recommends"})
                for (auto& d : parse_deps(f[k])) p.deps.push_back(std::move(d));
            for (const auto& alts : parse_deps(f["Provides"]))
                provides->emplace(alts.front(), p.name);
            pkgs->emplace(p.name, std::move(p));
        }
        f.clear();
        key.clear();
    };
    while (std::getline(in, line)) {
        if (line.empty()) {
            flush();
            continue;
        }
        if ((line[0] == ' ' || line[0] == '\t') && !key.empty()) {
            f[key] += " " + trim(line);
            continue;
        }
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        key = line.substr(0, colon);
        f[key] = trim(std::string_view(line).substr(colon + 1));
    }
    flush();
}

std::string list_file(const std::string& admin, const Package& p) {
    std::string path = admin + "/info/" + p.name + ".list";
    std::ifstream probe(path);
    if (!probe && !p.arch.empty()) path = admin + "/info/" + p.name + ":" + p.arch + ".list";
    return path;
}

bool is_doc(const std::string& path) {
    for (const char* d : {"/usr/share/doc/", "/usr/share/man/", "/usr/share/info/",
                          "/usr/share/locale/", "/usr/share/lintian/"})
        if (path.rfind(d, 0) == 0) return true;
    return false;
}

// The package whose .list names one of `names`, or "".
std::string owner_of(const std::string& admin, const std::set<std::string>& names) {
    DIR* d = opendir((admin + "/info").c_str());
    if (!d) return "";
    std::string found;
    while (dirent* e = readdir(d)) {
        const std::string n = e->d_name;
        if (n.size() < 6 || n.compare(n.size() - 5, 5, ".list") != 0) continue;
        std::string text;
        if (!read_text(admin + "/info/" + n, &text)) continue;
        std::stringstream in(text);
        std::string line;
        while (std::getline(in, line))
            if (names.count(line)) {
                found = n.substr(0, n.size() - 5);
                found = found.substr(0, found.find(':'));
                break;
            }
        if (!found.empty()) break;
    }
    closedir(d);
    return found;
}

}  // namespace

Result<DpkgClosure> dpkg_closure(const std::string& program, const std::string& admin_dir) {
    DpkgClosure out;
    std::string status;
    if (!read_text(admin_dir + "/status", &status)) return out;
    // The names the program may be listed under.
    std::set<std::string> names = {program};
    char real[PATH_MAX];
    if (realpath(program.c_str(), real)) names.insert(real);
    const size_t slash = program.rfind('/');
    if (slash != std::string::npos && slash > 0 && realpath(program.substr(0, slash).c_str(), real))
        names.insert(std::string(real) + program.substr(slash));
    // Packages install programs under these; anything else (a program
    // just built) is not looked up in every .list file.
    bool packaged = false;
    for (const auto& n : names)
        for (const char* top : {"/usr/", "/bin/", "/sbin/", "/opt/"})
            packaged = packaged || n.rfind(top, 0) == 0;
    if (!packaged) return out;
    const std::string owner = owner_of(admin_dir, names);
    if (owner.empty()) return out;

    std::map<std::string, Package> pkgs;
    std::map<std::string, std::string> provides;
    parse_status(status, &pkgs, &provides);
    auto installed = [&](const std::string& n) -> const Package* {
        if (auto it = pkgs.find(n); it != pkgs.end()) return &it->second;
        if (auto it = provides.find(n); it != provides.end()) return &pkgs.at(it->second);
        return nullptr;
    };
    std::set<std::string> seen;
    std::vector<const Package*> queue;
    if (const Package* p = installed(owner)) queue.push_back(p);
    for (size_t i = 0; i < queue.size(); ++i) {
        const Package* p = queue[i];
        if (!seen.insert(p->name).second) continue;
        if (seen.size() > kMaxPackages)
            return Status::invalid_argument("more than " + std::to_string(kMaxPackages) +
                                            " packages in the closure of " + owner);
        out.packages.push_back(p->name);
        for (const auto& alts : p->deps)
            for (const auto& a : alts)
                if (const Package* d = installed(a)) {
                    queue.push_back(d);
                    break;
                }
    }
    std::set<std::string> paths;
    for (const auto& name : out.packages) {
        std::string text;
        if (!read_text(list_file(admin_dir, pkgs.at(name)), &text)) continue;
        std::stringstream in(text);
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] != '/' || line == "/." || is_doc(line)) continue;
            if (!paths.insert(line).second) continue;
            if (paths.size() > kMaxPaths)
                return Status::invalid_argument("more than " + std::to_string(kMaxPaths) +
                                                " files in the packages of " + owner);
            out.paths.push_back(line);
        }
    }
    return out;
}

}  // namespace ember
