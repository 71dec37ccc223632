// resolv_conf.cpp - the default /etc/resolv.conf: it names the resolver the
// VMM answers (EMBER_NET_DNS_ADDR, src/vmm/dns_server.h), so that a
// program's getaddrinfo of a name the egress policy allows works without
// the image configuring anything.
//
// A root filesystem that brings its own resolv.conf keeps it. An empty one
// (`docker export` writes one: Docker mounts the real file at run time) or a
// symlink that leads nowhere (Debian's systemd-resolved stub) counts as
// none and is replaced, in the in-memory tree only. That is why this file
// is made here, at boot, rather than with the host's other /etc defaults
// (src/vmm/rootfs_builder.cpp add_etc_defaults, which keep any entry the
// tree has): every root filesystem gets it, however it was built.
#include "net/net.h"

namespace k {

namespace {

// Like the file Docker writes, with the resolver's address spelled out.
constexpr char kResolvConf[] =
    "# Written by Ember: the VMM answers DNS for the names the egress policy\n"
    "# allows (--allow-egress HOST:PORT); other names are NXDOMAIN.\n"
    "nameserver 169.254.0.53\n";
static_assert(EMBER_NET_DNS_ADDR == (169u << 24 | 254u << 16 | 0u << 8 | 53u),
              "the file names EMBER_NET_DNS_ADDR");

// The existing entry is a usable configuration: a non-empty file, or a
// symlink to one.
bool usable(fs::Inode* etc, const char* name) {
    fs::Lookup lk;
    if (fs::lookup(etc, name, fs::kFollow, &lk) < 0) return false;
    return fs::is_reg(lk.node) && lk.node->size > 0;
}

}  // namespace

void add_default_resolv_conf() {
    static const char kName[] = "resolv.conf";
    const uint32_t len = sizeof kName - 1;
    fs::Inode* root = fs::root();
    fs::Lookup lk;
    fs::Inode* etc;
    if (fs::lookup(root, "/etc", fs::kFollow, &lk) == 0) {
        if (!fs::is_dir(lk.node)) return;  // something else is there: leave it
        etc = lk.node;
    } else {
        etc = fs::inode_new(fs::FsId::kRootfs, S_IFDIR | 0755);
        if (!etc) return;
        if (!fs::dir_link(root, "etc", 3, etc)) {
            fs::inode_maybe_free(etc);
            return;
        }
    }
    // Only the root filesystem's own /etc is changed (not a volume's).
    if (etc->fs != fs::FsId::kRootfs) return;
    if (fs::Dirent* d = fs::dir_find(etc, kName, len)) {
        if (usable(etc, kName) || fs::is_dir(d->inode)) return;
        fs::dir_unlink(etc, d);
    }
    fs::Inode* f = fs::inode_new(fs::FsId::kRootfs, S_IFREG | 0644);
    if (!f) return;
    f->rodata = reinterpret_cast<const uint8_t*>(kResolvConf);
    f->size = sizeof kResolvConf - 1;
    if (!fs::dir_link(etc, kName, len, f)) fs::inode_maybe_free(f);
}

}  // namespace k
