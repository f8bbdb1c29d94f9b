/*
 * syscalls.c — the sandbox's system-call filter, through libseccomp.
 *
 * Everything is allowed but what lets code reach beyond its sandbox or
 * into the kernel's own state: tracing other processes, mounting,
 * making or entering namespaces, the kernel keyring, BPF, perf, module
 * and kexec loading, clocks, swap, reboot, io_uring (whose operations
 * seccomp cannot see), file handles that bypass path checks, and faking
 * terminal input.  Those fail with EPERM, as a program expects of a
 * system call it may not make.  clone3 fails with ENOSYS, since its
 * flags are behind a pointer the filter cannot read: the C library then
 * falls back to clone, whose namespace flags the filter does check.
 * Only the native architecture is allowed (libseccomp kills the others,
 * the x32 ABI included).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <seccomp.h>

#include "child/worker/confine.h"

static const char *const denied[] = {
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"pidfd_getfd",
	"mount", "umount", "umount2", "pivot_root", "chroot", "move_mount",
	"open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
	"mount_setattr",
	"unshare", "setns",
	"keyctl", "add_key", "request_key",
	"bpf", "perf_event_open", "userfaultfd", "fanotify_init",
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "reboot", "swapon", "swapoff", "acct",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"syslog", "quotactl", "quotactl_fd", "lookup_dcookie",
	"open_by_handle_at", "name_to_handle_at",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"iopl", "ioperm", "vhangup", "nfsservctl", "uselib",
	"sethostname", "setdomainname",
	NULL
};

/* clone() flags that make a namespace. */
static const unsigned long clone_ns[] = {
	CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS,
	CLONE_NEWIPC, CLONE_NEWCGROUP
};

static int
deny(scmp_filter_ctx ctx, int action, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;	/* not a system call of this architecture */
	return seccomp_rule_add(ctx, action, nr, 0);
}

static int
rules(scmp_filter_ctx ctx)
{
	int rc;

	for (size_t i = 0; denied[i] != NULL; i++) {
		if ((rc = deny(ctx, SCMP_ACT_ERRNO(EPERM), denied[i])) != 0)
			return rc;
	}
	for (size_t i = 0; i < sizeof(clone_ns) / sizeof(clone_ns[0]); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns[i], clone_ns[i]));
		if (rc != 0)
			return rc;
	}
	if ((rc = deny(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3")) != 0)
		return rc;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
	return rc;
}

int
seccomp_confine(char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		snprintf(err, errlen, "seccomp: cannot make a filter");
		return -1;
	}
	/* The filter sets no_new_privs itself (libseccomp's default). */
	if ((rc = rules(ctx)) == 0)
		rc = seccomp_load(ctx);
	if (rc != 0)
		snprintf(err, errlen, "seccomp: %s", strerror(-rc));
	seccomp_release(ctx);
	return rc == 0 ? 0 : -1;
}
