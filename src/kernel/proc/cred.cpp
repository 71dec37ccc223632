// cred.cpp - user and group ids per process, with Linux's rules for who may
// change them: real, effective, saved and filesystem ids, supplementary
// groups; inherited across fork and exec. A process whose effective uid is
// 0 may set any id (CAP_SETUID/CAP_SETGID follow the effective uid); any
// other may only move between its own real, effective and saved ids. The
// ids are reported, not enforced: files carry no owner checks in Ember (one
// instance is one tenant; docs/architecture.md, "Processes").
#include "kernel.h"
#include "proc/proc.h"
#include "sched/sched.h"

namespace k {
namespace {

constexpr uint32_t kKeep = 0xffffffffu;  // -1: leave this id as it is
constexpr uint64_t kNgroupsMax = 65536;  // Linux's NGROUPS_MAX

Cred& cred() { return current()->proc->cred; }

// Runs a change of ids; any change of the effective or filesystem ids
// makes the process not dumpable (Linux: commit_creds, suid_dumpable 0).
template <typename Fn>
int64_t changing(Fn fn) {
    Cred& c = cred();
    const uint32_t before[4] = {c.uid[1], c.gid[1], c.fsuid, c.fsgid};
    const int64_t r = fn();
    const uint32_t after[4] = {c.uid[1], c.gid[1], c.fsuid, c.fsgid};
    for (int i = 0; i < 4; ++i)
        if (before[i] != after[i]) c.dumpable = 0;
    return r;
}

bool privileged() { return cred().uid[1] == 0; }

// Whether an unprivileged process may take id v: one of its own.
bool own(const uint32_t ids[3], uint32_t v) { return v == ids[0] || v == ids[1] || v == ids[2]; }

// setresuid / setresgid: r, e, s each kKeep or a new id.
int64_t set_res(uint32_t ids[3], uint32_t* fs, uint32_t r, uint32_t e, uint32_t s) {
    if (!privileged()) {
        const uint32_t asked[3] = {r, e, s};
        for (uint32_t v : asked)
            if (v != kKeep && !own(ids, v)) return -EPERM;
    }
    if (r != kKeep) ids[0] = r;
    if (e != kKeep) ids[1] = e;
    if (s != kKeep) ids[2] = s;
    *fs = ids[1];
    return 0;
}

// setreuid / setregid: the saved id follows the effective one when the
// real id is set or the effective one moves away from the old real id.
int64_t set_re(uint32_t ids[3], uint32_t* fs, uint32_t r, uint32_t e) {
    if (!privileged()) {
        if (r != kKeep && r != ids[0] && r != ids[1]) return -EPERM;
        if (e != kKeep && !own(ids, e)) return -EPERM;
    }
    const uint32_t old_real = ids[0];
    if (r != kKeep) ids[0] = r;
    if (e != kKeep) ids[1] = e;
    if (r != kKeep || (e != kKeep && e != old_real)) ids[2] = ids[1];
    *fs = ids[1];
    return 0;
}

// setuid / setgid: a privileged process sets all three, another only the
// effective id (to its real or saved id).
int64_t set_one(uint32_t ids[3], uint32_t* fs, uint32_t v) {
    if (v == kKeep) return -EINVAL;
    if (privileged()) {
        ids[0] = ids[1] = ids[2] = v;
    } else if (v == ids[0] || v == ids[2]) {
        ids[1] = v;
    } else {
        return -EPERM;
    }
    *fs = v;
    return 0;
}

// setfsuid / setfsgid: always the previous value; changed when allowed.
int64_t set_fs(const uint32_t ids[3], uint32_t* fs, uint32_t v) {
    const uint32_t old = *fs;
    if (v != kKeep && (privileged() || own(ids, v) || v == *fs)) *fs = v;
    return old;
}

int64_t get_res(const uint32_t ids[3], uint64_t r, uint64_t e, uint64_t s) {
    const uint64_t where[3] = {r, e, s};
    for (int i = 0; i < 3; ++i)
        if (copy_to_user(where[i], &ids[i], sizeof ids[i]) < 0) return -EFAULT;
    return 0;
}

int64_t sys_getuid(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return cred().uid[0];
}
int64_t sys_geteuid(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return cred().uid[1];
}
int64_t sys_getgid(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return cred().gid[0];
}
int64_t sys_getegid(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return cred().gid[1];
}
int64_t sys_getresuid(uint64_t r, uint64_t e, uint64_t s, uint64_t, uint64_t, uint64_t) {
    return get_res(cred().uid, r, e, s);
}
int64_t sys_getresgid(uint64_t r, uint64_t e, uint64_t s, uint64_t, uint64_t, uint64_t) {
    return get_res(cred().gid, r, e, s);
}
int64_t sys_setuid(uint64_t v, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return changing([&] { return set_one(cred().uid, &cred().fsuid, static_cast<uint32_t>(v)); });
}
int64_t sys_setgid(uint64_t v, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return changing([&] { return set_one(cred().gid, &cred().fsgid, static_cast<uint32_t>(v)); });
}
int64_t sys_setreuid(uint64_t r, uint64_t e, uint64_t, uint64_t, uint64_t, uint64_t) {
    return changing([&] {
        return set_re(cred().uid, &cred().fsuid, static_cast<uint32_t>(r),
                      static_cast<uint32_t>(e));
    });
}
int64_t sys_setregid(uint64_t r, uint64_t e, uint64_t, uint64_t, uint64_t, uint64_t) {
    return changing([&] {
        return set_re(cred().gid, &cred().fsgid, static_cast<uint32_t>(r),
                      static_cast<uint32_t>(e));
    });
}
int64_t sys_setresuid(uint64_t r, uint64_t e, uint64_t s, uint64_t, uint64_t, uint64_t) {
    return changing([&] {
        return set_res(cred().uid, &cred().fsuid, static_cast<uint32_t>(r),
                       static_cast<uint32_t>(e), static_cast<uint32_t>(s));
    });
}
int64_t sys_setresgid(uint64_t r, uint64_t e, uint64_t s, uint64_t, uint64_t, uint64_t) {
    return changing([&] {
        return set_res(cred().gid, &cred().fsgid, static_cast<uint32_t>(r),
                       static_cast<uint32_t>(e), static_cast<uint32_t>(s));
    });
}
int64_t sys_setfsuid(uint64_t v, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return changing([&] { return set_fs(cred().uid, &cred().fsuid, static_cast<uint32_t>(v)); });
}
int64_t sys_setfsgid(uint64_t v, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return changing([&] { return set_fs(cred().gid, &cred().fsgid, static_cast<uint32_t>(v)); });
}

int64_t sys_getgroups(uint64_t size, uint64_t list, uint64_t, uint64_t, uint64_t, uint64_t) {
    const Cred& c = cred();
    const auto n = static_cast<int32_t>(size);
    if (n < 0) return -EINVAL;
    if (n == 0) return c.ngroups;
    if (static_cast<uint32_t>(n) < c.ngroups) return -EINVAL;
    if (c.ngroups && copy_to_user(list, c.groups, c.ngroups * sizeof c.groups[0]) < 0)
        return -EFAULT;
    return c.ngroups;
}

int64_t sys_setgroups(uint64_t size, uint64_t list, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (!privileged()) return -EPERM;
    if (size > kNgroupsMax) return -EINVAL;
    // Ember keeps up to kMaxGroups; a longer list cannot be stored.
    if (size > kMaxGroups) return -ENOMEM;
    uint32_t groups[kMaxGroups];
    if (size && copy_from_user(groups, list, size * sizeof groups[0]) < 0) return -EFAULT;
    Cred& c = cred();
    for (uint64_t i = 0; i < size; ++i) c.groups[i] = groups[i];
    c.ngroups = static_cast<uint32_t>(size);
    return 0;
}

}  // namespace

// execve: the saved ids take the effective ones (no set-id programs here).
void cred_exec(Cred* c) {
    c->uid[2] = c->fsuid = c->uid[1];
    c->gid[2] = c->fsgid = c->gid[1];
    c->dumpable = c->uid[0] == c->uid[1] && c->gid[0] == c->gid[1];
}

void register_cred_syscalls() {
    syscall_register(nr::getuid, "getuid", sys_getuid);
    syscall_register(nr::geteuid, "geteuid", sys_geteuid);
    syscall_register(nr::getgid, "getgid", sys_getgid);
    syscall_register(nr::getegid, "getegid", sys_getegid);
    syscall_register(nr::getresuid, "getresuid", sys_getresuid);
    syscall_register(nr::getresgid, "getresgid", sys_getresgid);
    syscall_register(nr::setuid, "setuid", sys_setuid);
    syscall_register(nr::setgid, "setgid", sys_setgid);
    syscall_register(nr::setreuid, "setreuid", sys_setreuid);
    syscall_register(nr::setregid, "setregid", sys_setregid);
    syscall_register(nr::setresuid, "setresuid", sys_setresuid);
    syscall_register(nr::setresgid, "setresgid", sys_setresgid);
    syscall_register(nr::setfsuid, "setfsuid", sys_setfsuid);
    syscall_register(nr::setfsgid, "setfsgid", sys_setfsgid);
    syscall_register(nr::getgroups, "getgroups", sys_getgroups);
    syscall_register(nr::setgroups, "setgroups", sys_setgroups);
}

}  // namespace k
