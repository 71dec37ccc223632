// oci_builder.h - builds OCI image layouts for tests with the host's tar and
// sha256sum (the integration tests run them with ember-vm --image; the e2e
// tests deploy them with ember deploy --image).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace ember::test {

// Runs cmd with sh -e; a failure fails the calling test.
inline void oci_sh(const std::string& cmd) {
    ASSERT_EQ(std::system(("set -e; " + cmd).c_str()), 0) << cmd;
}

// sha256 of a file, as hex.
inline std::string oci_digest(const std::string& path) {
    FILE* p = ::popen(("sha256sum " + path).c_str(), "r");
    char buf[65] = {};
    if (!p || std::fread(buf, 1, 64, p) != 64) ADD_FAILURE() << "sha256sum " << path;
    if (p) ::pclose(p);
    return buf;
}

// Copies file into layout/blobs/sha256/<digest>; returns the digest.
inline std::string oci_blob(const std::string& layout, const std::string& file) {
    const std::string d = oci_digest(file);
    oci_sh("mkdir -p " + layout + "/blobs/sha256 && cp " + file + " " + layout + "/blobs/sha256/" +
           d);
    return d;
}

// Writes an OCI image layout at `layout` whose manifest lists the layer
// files (tar or tar.gz, in order) and the image config `config_json`
// (written next to the layout as `layout`.config first). Returns the
// layers' digests.
inline std::vector<std::string> write_oci_layout(const std::string& layout,
                                                 const std::vector<std::string>& layers,
                                                 const std::string& config_json) {
    const std::string config = layout + ".config", manifest = layout + ".manifest";
    std::ofstream(config) << config_json;
    std::vector<std::string> digests;
    std::string list;
    for (const std::string& l : layers) {
        digests.push_back(oci_blob(layout, l));
        list += std::string(list.empty() ? "" : ",") + R"({"digest":"sha256:)" + digests.back() +
                R"(","size":1})";
    }
    const std::string dc = oci_blob(layout, config);
    std::ofstream(manifest) << R"({"schemaVersion":2,"config":{"digest":"sha256:)" + dc +
                                   R"(","size":1},"layers":[)" + list + "]}";
    const std::string dm = oci_blob(layout, manifest);
    std::ofstream(layout + "/index.json")
        << R"({"schemaVersion":2,"manifests":[{"digest":"sha256:)" + dm +
               R"(","platform":{"architecture":"amd64","os":"linux"}}]})";
    std::ofstream(layout + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
    return digests;
}

}  // namespace ember::test
