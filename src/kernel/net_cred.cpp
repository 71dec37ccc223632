// net_cred.cpp - the credentials AF_UNIX sockets carry (SO_PEERCRED,
// SCM_CREDENTIALS). Outside net/ because it reads the process list, which
// the host tests of net/ replace with a shim.
#include "net/usock.h"
#include "proc/proc.h"
#include "sched/sched.h"

namespace k::net {

// Every process runs as root (uid and gid 0, see process.cpp's identity).
void cred_current(Cred* c) { *c = {current()->proc->pid, 0, 0}; }

}  // namespace k::net
