// syscall_names.h - x86-64 Linux syscall numbers and names (generated from
// <asm/unistd_64.h> by a one-off script; numbers are the kernel ABI).
#pragma once

namespace k::nr {
constexpr unsigned read = 0;
constexpr unsigned write = 1;
constexpr unsigned open = 2;
constexpr unsigned close = 3;
constexpr unsigned stat = 4;
constexpr unsigned fstat = 5;
constexpr unsigned lstat = 6;
constexpr unsigned poll = 7;
constexpr unsigned lseek = 8;
constexpr unsigned mmap = 9;
constexpr unsigned mprotect = 10;
constexpr unsigned munmap = 11;
constexpr unsigned brk = 12;
constexpr unsigned rt_sigaction = 13;
constexpr unsigned rt_sigprocmask = 14;
constexpr unsigned rt_sigreturn = 15;
constexpr unsigned ioctl = 16;
constexpr unsigned pread64 = 17;
constexpr unsigned pwrite64 = 18;
constexpr unsigned readv = 19;
constexpr unsigned writev = 20;
constexpr unsigned access = 21;
constexpr unsigned pipe = 22;
constexpr unsigned select = 23;
constexpr unsigned sched_yield = 24;
constexpr unsigned mremap = 25;
constexpr unsigned msync = 26;
constexpr unsigned mincore = 27;
constexpr unsigned madvise = 28;
constexpr unsigned shmget = 29;
constexpr unsigned shmat = 30;
constexpr unsigned shmctl = 31;
constexpr unsigned dup = 32;
constexpr unsigned dup2 = 33;
constexpr unsigned pause = 34;
constexpr unsigned nanosleep = 35;
constexpr unsigned getitimer = 36;
constexpr unsigned alarm = 37;
constexpr unsigned setitimer = 38;
constexpr unsigned getpid = 39;
constexpr unsigned sendfile = 40;
constexpr unsigned socket = 41;
constexpr unsigned connect = 42;
constexpr unsigned accept = 43;
constexpr unsigned sendto = 44;
constexpr unsigned recvfrom = 45;
constexpr unsigned sendmsg = 46;
constexpr unsigned recvmsg = 47;
constexpr unsigned shutdown = 48;
constexpr unsigned bind = 49;
constexpr unsigned listen = 50;
constexpr unsigned getsockname = 51;
constexpr unsigned getpeername = 52;
constexpr unsigned socketpair = 53;
constexpr unsigned setsockopt = 54;
constexpr unsigned getsockopt = 55;
constexpr unsigned clone = 56;
constexpr unsigned fork = 57;
constexpr unsigned vfork = 58;
constexpr unsigned execve = 59;
constexpr unsigned exit = 60;
constexpr unsigned wait4 = 61;
constexpr unsigned kill = 62;
constexpr unsigned uname = 63;
constexpr unsigned semget = 64;
constexpr unsigned semop = 65;
constexpr unsigned semctl = 66;
constexpr unsigned shmdt = 67;
constexpr unsigned msgget = 68;
constexpr unsigned msgsnd = 69;
constexpr unsigned msgrcv = 70;
constexpr unsigned msgctl = 71;
constexpr unsigned fcntl = 72;
constexpr unsigned flock = 73;
constexpr unsigned fsync = 74;
constexpr unsigned fdatasync = 75;
constexpr unsigned truncate = 76;
constexpr unsigned ftruncate = 77;
constexpr unsigned getdents = 78;
constexpr unsigned getcwd = 79;
constexpr unsigned chdir = 80;
constexpr unsigned fchdir = 81;
constexpr unsigned rename = 82;
constexpr unsigned mkdir = 83;
constexpr unsigned rmdir = 84;
constexpr unsigned creat = 85;
constexpr unsigned link = 86;
constexpr unsigned unlink = 87;
constexpr unsigned symlink = 88;
constexpr unsigned readlink = 89;
constexpr unsigned chmod = 90;
constexpr unsigned fchmod = 91;
constexpr unsigned chown = 92;
constexpr unsigned fchown = 93;
constexpr unsigned lchown = 94;
constexpr unsigned umask = 95;
constexpr unsigned gettimeofday = 96;
constexpr unsigned getrlimit = 97;
constexpr unsigned getrusage = 98;
constexpr unsigned sysinfo = 99;
constexpr unsigned times = 100;
constexpr unsigned ptrace = 101;
constexpr unsigned getuid = 102;
constexpr unsigned syslog = 103;
constexpr unsigned getgid = 104;
constexpr unsigned setuid = 105;
constexpr unsigned setgid = 106;
constexpr unsigned geteuid = 107;
constexpr unsigned getegid = 108;
constexpr unsigned setpgid = 109;
constexpr unsigned getppid = 110;
constexpr unsigned getpgrp = 111;
constexpr unsigned setsid = 112;
constexpr unsigned setreuid = 113;
constexpr unsigned setregid = 114;
constexpr unsigned getgroups = 115;
constexpr unsigned setgroups = 116;
constexpr unsigned setresuid = 117;
constexpr unsigned getresuid = 118;
constexpr unsigned setresgid = 119;
constexpr unsigned getresgid = 120;
constexpr unsigned getpgid = 121;
constexpr unsigned setfsuid = 122;
constexpr unsigned setfsgid = 123;
constexpr unsigned getsid = 124;
constexpr unsigned capget = 125;
constexpr unsigned capset = 126;
constexpr unsigned rt_sigpending = 127;
constexpr unsigned rt_sigtimedwait = 128;
constexpr unsigned rt_sigqueueinfo = 129;
constexpr unsigned rt_sigsuspend = 130;
constexpr unsigned sigaltstack = 131;
constexpr unsigned utime = 132;
constexpr unsigned mknod = 133;
constexpr unsigned uselib = 134;
constexpr unsigned personality = 135;
constexpr unsigned ustat = 136;
constexpr unsigned statfs = 137;
constexpr unsigned fstatfs = 138;
constexpr unsigned sysfs = 139;
constexpr unsigned getpriority = 140;
constexpr unsigned setpriority = 141;
constexpr unsigned sched_setparam = 142;
constexpr unsigned sched_getparam = 143;
constexpr unsigned sched_setscheduler = 144;
constexpr unsigned sched_getscheduler = 145;
constexpr unsigned sched_get_priority_max = 146;
constexpr unsigned sched_get_priority_min = 147;
constexpr unsigned sched_rr_get_interval = 148;
constexpr unsigned mlock = 149;
constexpr unsigned munlock = 150;
constexpr unsigned mlockall = 151;
constexpr unsigned munlockall = 152;
constexpr unsigned vhangup = 153;
constexpr unsigned modify_ldt = 154;
constexpr unsigned pivot_root = 155;
constexpr unsigned _sysctl = 156;
constexpr unsigned prctl = 157;
constexpr unsigned arch_prctl = 158;
constexpr unsigned adjtimex = 159;
constexpr unsigned setrlimit = 160;
constexpr unsigned chroot = 161;
constexpr unsigned sync = 162;
constexpr unsigned acct = 163;
constexpr unsigned settimeofday = 164;
constexpr unsigned mount = 165;
constexpr unsigned umount2 = 166;
constexpr unsigned swapon = 167;
constexpr unsigned swapoff = 168;
constexpr unsigned reboot = 169;
constexpr unsigned sethostname = 170;
constexpr unsigned setdomainname = 171;
constexpr unsigned iopl = 172;
constexpr unsigned ioperm = 173;
constexpr unsigned create_module = 174;
constexpr unsigned init_module = 175;
constexpr unsigned delete_module = 176;
constexpr unsigned get_kernel_syms = 177;
constexpr unsigned query_module = 178;
constexpr unsigned quotactl = 179;
constexpr unsigned nfsservctl = 180;
constexpr unsigned getpmsg = 181;
constexpr unsigned putpmsg = 182;
constexpr unsigned afs_syscall = 183;
constexpr unsigned tuxcall = 184;
constexpr unsigned security = 185;
constexpr unsigned gettid = 186;
constexpr unsigned readahead = 187;
constexpr unsigned setxattr = 188;
constexpr unsigned lsetxattr = 189;
constexpr unsigned fsetxattr = 190;
constexpr unsigned getxattr = 191;
constexpr unsigned lgetxattr = 192;
constexpr unsigned fgetxattr = 193;
constexpr unsigned listxattr = 194;
constexpr unsigned llistxattr = 195;
constexpr unsigned flistxattr = 196;
constexpr unsigned removexattr = 197;
constexpr unsigned lremovexattr = 198;
constexpr unsigned fremovexattr = 199;
constexpr unsigned tkill = 200;
constexpr unsigned time = 201;
constexpr unsigned futex = 202;
constexpr unsigned sched_setaffinity = 203;
constexpr unsigned sched_getaffinity = 204;
constexpr unsigned set_thread_area = 205;
constexpr unsigned io_setup = 206;
constexpr unsigned io_destroy = 207;
constexpr unsigned io_getevents = 208;
constexpr unsigned io_submit = 209;
constexpr unsigned io_cancel = 210;
constexpr unsigned get_thread_area = 211;
constexpr unsigned lookup_dcookie = 212;
constexpr unsigned epoll_create = 213;
constexpr unsigned epoll_ctl_old = 214;
constexpr unsigned epoll_wait_old = 215;
constexpr unsigned remap_file_pages = 216;
constexpr unsigned getdents64 = 217;
constexpr unsigned set_tid_address = 218;
constexpr unsigned restart_syscall = 219;
constexpr unsigned semtimedop = 220;
constexpr unsigned fadvise64 = 221;
constexpr unsigned timer_create = 222;
constexpr unsigned timer_settime = 223;
constexpr unsigned timer_gettime = 224;
constexpr unsigned timer_getoverrun = 225;
constexpr unsigned timer_delete = 226;
constexpr unsigned clock_settime = 227;
constexpr unsigned clock_gettime = 228;
constexpr unsigned clock_getres = 229;
constexpr unsigned clock_nanosleep = 230;
constexpr unsigned exit_group = 231;
constexpr unsigned epoll_wait = 232;
constexpr unsigned epoll_ctl = 233;
constexpr unsigned tgkill = 234;
constexpr unsigned utimes = 235;
constexpr unsigned vserver = 236;
constexpr unsigned mbind = 237;
constexpr unsigned set_mempolicy = 238;
constexpr unsigned get_mempolicy = 239;
constexpr unsigned mq_open = 240;
constexpr unsigned mq_unlink = 241;
constexpr unsigned mq_timedsend = 242;
constexpr unsigned mq_timedreceive = 243;
constexpr unsigned mq_notify = 244;
constexpr unsigned mq_getsetattr = 245;
constexpr unsigned kexec_load = 246;
constexpr unsigned waitid = 247;
constexpr unsigned add_key = 248;
constexpr unsigned request_key = 249;
constexpr unsigned keyctl = 250;
constexpr unsigned ioprio_set = 251;
constexpr unsigned ioprio_get = 252;
constexpr unsigned inotify_init = 253;
constexpr unsigned inotify_add_watch = 254;
constexpr unsigned inotify_rm_watch = 255;
constexpr unsigned migrate_pages = 256;
constexpr unsigned openat = 257;
constexpr unsigned mkdirat = 258;
constexpr unsigned mknodat = 259;
constexpr unsigned fchownat = 260;
constexpr unsigned futimesat = 261;
constexpr unsigned newfstatat = 262;
constexpr unsigned unlinkat = 263;
constexpr unsigned renameat = 264;
constexpr unsigned linkat = 265;
constexpr unsigned symlinkat = 266;
constexpr unsigned readlinkat = 267;
constexpr unsigned fchmodat = 268;
constexpr unsigned faccessat = 269;
constexpr unsigned pselect6 = 270;
constexpr unsigned ppoll = 271;
constexpr unsigned unshare = 272;
constexpr unsigned set_robust_list = 273;
constexpr unsigned get_robust_list = 274;
constexpr unsigned splice = 275;
constexpr unsigned tee = 276;
constexpr unsigned sync_file_range = 277;
constexpr unsigned vmsplice = 278;
constexpr unsigned move_pages = 279;
constexpr unsigned utimensat = 280;
constexpr unsigned epoll_pwait = 281;
constexpr unsigned signalfd = 282;
constexpr unsigned timerfd_create = 283;
constexpr unsigned eventfd = 284;
constexpr unsigned fallocate = 285;
constexpr unsigned timerfd_settime = 286;
constexpr unsigned timerfd_gettime = 287;
constexpr unsigned accept4 = 288;
constexpr unsigned signalfd4 = 289;
constexpr unsigned eventfd2 = 290;
constexpr unsigned epoll_create1 = 291;
constexpr unsigned dup3 = 292;
constexpr unsigned pipe2 = 293;
constexpr unsigned inotify_init1 = 294;
constexpr unsigned preadv = 295;
constexpr unsigned pwritev = 296;
constexpr unsigned rt_tgsigqueueinfo = 297;
constexpr unsigned perf_event_open = 298;
constexpr unsigned recvmmsg = 299;
constexpr unsigned fanotify_init = 300;
constexpr unsigned fanotify_mark = 301;
constexpr unsigned prlimit64 = 302;
constexpr unsigned name_to_handle_at = 303;
constexpr unsigned open_by_handle_at = 304;
constexpr unsigned clock_adjtime = 305;
constexpr unsigned syncfs = 306;
constexpr unsigned sendmmsg = 307;
constexpr unsigned setns = 308;
constexpr unsigned getcpu = 309;
constexpr unsigned process_vm_readv = 310;
constexpr unsigned process_vm_writev = 311;
constexpr unsigned kcmp = 312;
constexpr unsigned finit_module = 313;
constexpr unsigned sched_setattr = 314;
constexpr unsigned sched_getattr = 315;
constexpr unsigned renameat2 = 316;
constexpr unsigned seccomp = 317;
constexpr unsigned getrandom = 318;
constexpr unsigned memfd_create = 319;
constexpr unsigned kexec_file_load = 320;
constexpr unsigned bpf = 321;
constexpr unsigned execveat = 322;
constexpr unsigned userfaultfd = 323;
constexpr unsigned membarrier = 324;
constexpr unsigned mlock2 = 325;
constexpr unsigned copy_file_range = 326;
constexpr unsigned preadv2 = 327;
constexpr unsigned pwritev2 = 328;
constexpr unsigned pkey_mprotect = 329;
constexpr unsigned pkey_alloc = 330;
constexpr unsigned pkey_free = 331;
constexpr unsigned statx = 332;
constexpr unsigned io_pgetevents = 333;
constexpr unsigned rseq = 334;
constexpr unsigned pidfd_send_signal = 424;
constexpr unsigned io_uring_setup = 425;
constexpr unsigned io_uring_enter = 426;
constexpr unsigned io_uring_register = 427;
constexpr unsigned open_tree = 428;
constexpr unsigned move_mount = 429;
constexpr unsigned fsopen = 430;
constexpr unsigned fsconfig = 431;
constexpr unsigned fsmount = 432;
constexpr unsigned fspick = 433;
constexpr unsigned pidfd_open = 434;
constexpr unsigned clone3 = 435;
constexpr unsigned close_range = 436;
constexpr unsigned openat2 = 437;
constexpr unsigned pidfd_getfd = 438;
constexpr unsigned faccessat2 = 439;
constexpr unsigned process_madvise = 440;
constexpr unsigned epoll_pwait2 = 441;
constexpr unsigned mount_setattr = 442;
constexpr unsigned quotactl_fd = 443;
constexpr unsigned landlock_create_ruleset = 444;
constexpr unsigned landlock_add_rule = 445;
constexpr unsigned landlock_restrict_self = 446;
constexpr unsigned memfd_secret = 447;
constexpr unsigned process_mrelease = 448;
constexpr unsigned futex_waitv = 449;
constexpr unsigned set_mempolicy_home_node = 450;
}  // namespace k::nr

namespace k {
struct SyscallNameEntry { unsigned nr; const char* name; };
inline constexpr SyscallNameEntry kSyscallNames[] = {
    {0, "read"},
    {1, "write"},
    {2, "open"},
    {3, "close"},
    {4, "stat"},
    {5, "fstat"},
    {6, "lstat"},
    {7, "poll"},
    {8, "lseek"},
    {9, "mmap"},
    {10, "mprotect"},
    {11, "munmap"},
    {12, "brk"},
    {13, "rt_sigaction"},
    {14, "rt_sigprocmask"},
    {15, "rt_sigreturn"},
    {16, "ioctl"},
    {17, "pread64"},
    {18, "pwrite64"},
    {19, "readv"},
    {20, "writev"},
    {21, "access"},
    {22, "pipe"},
    {23, "select"},
    {24, "sched_yield"},
    {25, "mremap"},
    {26, "msync"},
    {27, "mincore"},
    {28, "madvise"},
    {29, "shmget"},
    {30, "shmat"},
    {31, "shmctl"},
    {32, "dup"},
    {33, "dup2"},
    {34, "pause"},
    {35, "nanosleep"},
    {36, "getitimer"},
    {37, "alarm"},
    {38, "setitimer"},
    {39, "getpid"},
    {40, "sendfile"},
    {41, "socket"},
    {42, "connect"},
    {43, "accept"},
    {44, "sendto"},
    {45, "recvfrom"},
    {46, "sendmsg"},
    {47, "recvmsg"},
    {48, "shutdown"},
    {49, "bind"},
    {50, "listen"},
    {51, "getsockname"},
    {52, "getpeername"},
    {53, "socketpair"},
    {54, "setsockopt"},
    {55, "getsockopt"},
    {56, "clone"},
    {57, "fork"},
    {58, "vfork"},
    {59, "execve"},
    {60, "exit"},
    {61, "wait4"},
    {62, "kill"},
    {63, "uname"},
    {64, "semget"},
    {65, "semop"},
    {66, "semctl"},
    {67, "shmdt"},
    {68, "msgget"},
    {69, "msgsnd"},
    {70, "msgrcv"},
    {71, "msgctl"},
    {72, "fcntl"},
    {73, "flock"},
    {74, "fsync"},
    {75, "fdatasync"},
    {76, "truncate"},
    {77, "ftruncate"},
    {78, "getdents"},
    {79, "getcwd"},
    {80, "chdir"},
    {81, "fchdir"},
    {82, "rename"},
    {83, "mkdir"},
    {84, "rmdir"},
    {85, "creat"},
    {86, "link"},
    {87, "unlink"},
    {88, "symlink"},
    {89, "readlink"},
    {90, "chmod"},
    {91, "fchmod"},
    {92, "chown"},
    {93, "fchown"},
    {94, "lchown"},
    {95, "umask"},
    {96, "gettimeofday"},
    {97, "getrlimit"},
    {98, "getrusage"},
    {99, "sysinfo"},
    {100, "times"},
    {101, "ptrace"},
    {102, "getuid"},
    {103, "syslog"},
    {104, "getgid"},
    {105, "setuid"},
    {106, "setgid"},
    {107, "geteuid"},
    {108, "getegid"},
    {109, "setpgid"},
    {110, "getppid"},
    {111, "getpgrp"},
    {112, "setsid"},
    {113, "setreuid"},
    {114, "setregid"},
    {115, "getgroups"},
    {116, "setgroups"},
    {117, "setresuid"},
    {118, "getresuid"},
    {119, "setresgid"},
    {120, "getresgid"},
    {121, "getpgid"},
    {122, "setfsuid"},
    {123, "setfsgid"},
    {124, "getsid"},
    {125, "capget"},
    {126, "capset"},
    {127, "rt_sigpending"},
    {128, "rt_sigtimedwait"},
    {129, "rt_sigqueueinfo"},
    {130, "rt_sigsuspend"},
    {131, "sigaltstack"},
    {132, "utime"},
    {133, "mknod"},
    {134, "uselib"},
    {135, "personality"},
    {136, "ustat"},
    {137, "statfs"},
    {138, "fstatfs"},
    {139, "sysfs"},
    {140, "getpriority"},
    {141, "setpriority"},
    {142, "sched_setparam"},
    {143, "sched_getparam"},
    {144, "sched_setscheduler"},
    {145, "sched_getscheduler"},
    {146, "sched_get_priority_max"},
    {147, "sched_get_priority_min"},
    {148, "sched_rr_get_interval"},
    {149, "mlock"},
    {150, "munlock"},
    {151, "mlockall"},
    {152, "munlockall"},
    {153, "vhangup"},
    {154, "modify_ldt"},
    {155, "pivot_root"},
    {156, "_sysctl"},
    {157, "prctl"},
    {158, "arch_prctl"},
    {159, "adjtimex"},
    {160, "setrlimit"},
    {161, "chroot"},
    {162, "sync"},
    {163, "acct"},
    {164, "settimeofday"},
    {165, "mount"},
    {166, "umount2"},
    {167, "swapon"},
    {168, "swapoff"},
    {169, "reboot"},
    {170, "sethostname"},
    {171, "setdomainname"},
    {172, "iopl"},
    {173, "ioperm"},
    {174, "create_module"},
    {175, "init_module"},
    {176, "delete_module"},
    {177, "get_kernel_syms"},
    {178, "query_module"},
    {179, "quotactl"},
    {180, "nfsservctl"},
    {181, "getpmsg"},
    {182, "putpmsg"},
    {183, "afs_syscall"},
    {184, "tuxcall"},
    {185, "security"},
    {186, "gettid"},
    {187, "readahead"},
    {188, "setxattr"},
    {189, "lsetxattr"},
    {190, "fsetxattr"},
    {191, "getxattr"},
    {192, "lgetxattr"},
    {193, "fgetxattr"},
    {194, "listxattr"},
    {195, "llistxattr"},
    {196, "flistxattr"},
    {197, "removexattr"},
    {198, "lremovexattr"},
    {199, "fremovexattr"},
    {200, "tkill"},
    {201, "time"},
    {202, "futex"},
    {203, "sched_setaffinity"},
    {204, "sched_getaffinity"},
    {205, "set_thread_area"},
    {206, "io_setup"},
    {207, "io_destroy"},
    {208, "io_getevents"},
    {209, "io_submit"},
    {210, "io_cancel"},
    {211, "get_thread_area"},
    {212, "lookup_dcookie"},
    {213, "epoll_create"},
    {214, "epoll_ctl_old"},
    {215, "epoll_wait_old"},
    {216, "remap_file_pages"},
    {217, "getdents64"},
    {218, "set_tid_address"},
    {219, "restart_syscall"},
    {220, "semtimedop"},
    {221, "fadvise64"},
    {222, "timer_create"},
    {223, "timer_settime"},
    {224, "timer_gettime"},
    {225, "timer_getoverrun"},
    {226, "timer_delete"},
    {227, "clock_settime"},
    {228, "clock_gettime"},
    {229, "clock_getres"},
    {230, "clock_nanosleep"},
    {231, "exit_group"},
    {232, "epoll_wait"},
    {233, "epoll_ctl"},
    {234, "tgkill"},
    {235, "utimes"},
    {236, "vserver"},
    {237, "mbind"},
    {238, "set_mempolicy"},
    {239, "get_mempolicy"},
    {240, "mq_open"},
    {241, "mq_unlink"},
    {242, "mq_timedsend"},
    {243, "mq_timedreceive"},
    {244, "mq_notify"},
    {245, "mq_getsetattr"},
    {246, "kexec_load"},
    {247, "waitid"},
    {248, "add_key"},
    {249, "request_key"},
    {250, "keyctl"},
    {251, "ioprio_set"},
    {252, "ioprio_get"},
    {253, "inotify_init"},
    {254, "inotify_add_watch"},
    {255, "inotify_rm_watch"},
    {256, "migrate_pages"},
    {257, "openat"},
    {258, "mkdirat"},
    {259, "mknodat"},
    {260, "fchownat"},
    {261, "futimesat"},
    {262, "newfstatat"},
    {263, "unlinkat"},
    {264, "renameat"},
    {265, "linkat"},
    {266, "symlinkat"},
    {267, "readlinkat"},
    {268, "fchmodat"},
    {269, "faccessat"},
    {270, "pselect6"},
    {271, "ppoll"},
    {272, "unshare"},
    {273, "set_robust_list"},
    {274, "get_robust_list"},
    {275, "splice"},
    {276, "tee"},
    {277, "sync_file_range"},
    {278, "vmsplice"},
    {279, "move_pages"},
    {280, "utimensat"},
    {281, "epoll_pwait"},
    {282, "signalfd"},
    {283, "timerfd_create"},
    {284, "eventfd"},
    {285, "fallocate"},
    {286, "timerfd_settime"},
    {287, "timerfd_gettime"},
    {288, "accept4"},
    {289, "signalfd4"},
    {290, "eventfd2"},
    {291, "epoll_create1"},
    {292, "dup3"},
    {293, "pipe2"},
    {294, "inotify_init1"},
    {295, "preadv"},
    {296, "pwritev"},
    {297, "rt_tgsigqueueinfo"},
    {298, "perf_event_open"},
    {299, "recvmmsg"},
    {300, "fanotify_init"},
    {301, "fanotify_mark"},
    {302, "prlimit64"},
    {303, "name_to_handle_at"},
    {304, "open_by_handle_at"},
    {305, "clock_adjtime"},
    {306, "syncfs"},
    {307, "sendmmsg"},
    {308, "setns"},
    {309, "getcpu"},
    {310, "process_vm_readv"},
    {311, "process_vm_writev"},
    {312, "kcmp"},
    {313, "finit_module"},
    {314, "sched_setattr"},
    {315, "sched_getattr"},
    {316, "renameat2"},
    {317, "seccomp"},
    {318, "getrandom"},
    {319, "memfd_create"},
    {320, "kexec_file_load"},
    {321, "bpf"},
    {322, "execveat"},
    {323, "userfaultfd"},
    {324, "membarrier"},
    {325, "mlock2"},
    {326, "copy_file_range"},
    {327, "preadv2"},
    {328, "pwritev2"},
    {329, "pkey_mprotect"},
    {330, "pkey_alloc"},
    {331, "pkey_free"},
    {332, "statx"},
    {333, "io_pgetevents"},
    {334, "rseq"},
    {424, "pidfd_send_signal"},
    {425, "io_uring_setup"},
    {426, "io_uring_enter"},
    {427, "io_uring_register"},
    {428, "open_tree"},
    {429, "move_mount"},
    {430, "fsopen"},
    {431, "fsconfig"},
    {432, "fsmount"},
    {433, "fspick"},
    {434, "pidfd_open"},
    {435, "clone3"},
    {436, "close_range"},
    {437, "openat2"},
    {438, "pidfd_getfd"},
    {439, "faccessat2"},
    {440, "process_madvise"},
    {441, "epoll_pwait2"},
    {442, "mount_setattr"},
    {443, "quotactl_fd"},
    {444, "landlock_create_ruleset"},
    {445, "landlock_add_rule"},
    {446, "landlock_restrict_self"},
    {447, "memfd_secret"},
    {448, "process_mrelease"},
    {449, "futex_waitv"},
    {450, "set_mempolicy_home_node"},
};
}  // namespace k
