/*
 * sandbox_probe.c — `masterd-worker --sandbox-probe`: can the strict
 * sandbox be built here, and if not, what is missing and how to fix it.
 *
 * masterd runs it at start-up and for `masterd -n`, as the same user and
 * in the same unit as the checks would run, so its verdict is theirs.
 * Each kernel feature is tried on its own in a child process (a failed
 * unshare must not change the prober), then, when all are there, one
 * whole sandbox runs `exit 0` in a scratch directory.  The answer is one
 * JSON object on stdout (sandbox.h gives its shape).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/landlock.h>

#include "child/worker/confine.h"
#include "child/worker/sandbox.h"

#define FIX_USERNS "allow unprivileged user namespaces: `sysctl " \
	"user.max_user_namespaces=15000` (0 disables them); Debian before " \
	"11: `sysctl kernel.unprivileged_userns_clone=1`; Ubuntu 23.10 and " \
	"later: `sysctl kernel.apparmor_restrict_unprivileged_userns=0` or " \
	"an AppArmor profile with `userns`; under systemd: " \
	"RestrictNamespaces=user mnt pid net; in a container: a seccomp " \
	"profile that allows unshare"
#define FIX_NS "under systemd: RestrictNamespaces=user mnt pid net (the " \
	"unit masterd ships allows them); in a container: a seccomp profile " \
	"that allows unshare"
#define FIX_LANDLOCK_OFF "Landlock is built but not enabled: add landlock " \
	"to the kernel's LSM list (boot with lsm=landlock,... or build with " \
	"it in CONFIG_LSM)"
#define FIX_LANDLOCK_NONE "a kernel with Landlock: Linux 5.13 or later " \
	"with CONFIG_SECURITY_LANDLOCK=y, and landlock in the LSM list"
#define FIX_SECCOMP "a kernel with seccomp filters " \
	"(CONFIG_SECCOMP_FILTER=y); under systemd, SystemCallFilter= must " \
	"allow seccomp()"
#define FIX_TRIAL "see the error above; `masterd-worker --exec-check -- " \
	"true` run by hand as masterd's user shows the same"
#define SIMULATED "not available (simulated by " SANDBOX_LACKS_ENV ")"

struct probe {
	const char *lacks;
	json_t *features;
	json_t *missing;
	json_t *notes;
	bool strict;
};

/* --------------------------------------------------------- trying things */

/*
 * Run fn in a child process and wait: 0 when it returned 0, else -1
 * with why (what fn wrote, or how the child ended) in err.
 */
static int
in_child(int (*fn)(void *, int), void *arg, char *err, size_t errlen)
{
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		_exit(fn(arg, fds[1]) == 0 ? 0 : 1);
	}
	close(fds[1]);
	n = read(fds[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (err[0] == '\0')
		snprintf(err, errlen, "the trial process ended with status %d",
		    status);
	return -1;
}

static int
say(int fd, const char *what)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s: %s", what, strerror(errno));

	(void)write(fd, line, n > 0 ? (size_t)n : 0);
	return -1;
}

static int
try_unshare(void *flags, int fd)
{
	if (unshare(*(int *)flags) != 0)
		return say(fd, "unshare");
	return 0;
}

/* A new PID namespace is only entered by a child: make one. */
static int
try_pid(void *unused, int fd)
{
	int status;
	pid_t pid;

	(void)unused;
	if (unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0)
		return say(fd, "unshare");
	if ((pid = fork()) < 0)
		return say(fd, "fork");
	if (pid == 0)
		_exit(getpid() == 1 ? 0 : 1);
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* A /proc of our own: refused under a unit that masks the host's. */
static int
proc_child(void *want_pid_max, int fd)
{
	int w;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL) != 0)
		return say(fd, "mount proc");
	if (!*(bool *)want_pid_max)
		return 0;
	if ((w = open("/proc/sys/kernel/pid_max", O_WRONLY)) < 0)
		return say(fd, "pid_max");
	if (write(w, "400\n", 4) != 4) {
		close(w);
		return say(fd, "pid_max");
	}
	close(w);
	return 0;
}

static int
try_proc(void *want_pid_max, int fd)
{
	int status;
	pid_t pid;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) != 0)
		return say(fd, "unshare");
	if ((pid = fork()) < 0)
		return say(fd, "fork");
	if (pid == 0)
		_exit(proc_child(want_pid_max, fd) == 0 ? 0 : 1);
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
try_seccomp(void *lacks, int fd)
{
	char err[256];

	if (sandbox_lacks(lacks, "seccomp"))
		snprintf(err, sizeof(err), SIMULATED);
	else if (seccomp_confine(err, sizeof(err)) == 0)
		return 0;
	(void)write(fd, err, strlen(err));
	return -1;
}

/* The whole sandbox around `exit 0`, in a scratch directory. */
static int
try_whole(void *lacks, int fd)
{
	struct sandbox_spec s = { .lacks = lacks, .processes = 64,
	    .tmp_size = 1 << 20 };
	char dir[] = "/tmp/masterd-probe.XXXXXX";
	int rc, null;

	if (mkdtemp(dir) == NULL)
		return say(fd, "mkdtemp");
	s.workdir = dir;
	/* The sandbox's report comes back on our pipe, not on stderr. */
	if (dup2(fd, SANDBOX_REPORT_FD) < 0 ||
	    (null = open("/dev/null", O_WRONLY)) < 0 ||
	    dup2(null, STDERR_FILENO) < 0)
		return say(fd, "dup2");
	close(null);
	rc = sandbox_exec(&s, "exit 0");
	rmdir(dir);
	return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ the verdict */

static void
feature(struct probe *p, const char *name, bool ok, const char *detail)
{
	json_array_append_new(p->features, json_pack("{s:s, s:b, s:s}",
	    "name", name, "ok", ok, "detail", detail));
}

static void
missing(struct probe *p, const char *name, const char *error,
    const char *fix)
{
	feature(p, name, false, error);
	json_array_append_new(p->missing, json_pack("{s:s, s:s, s:s}",
	    "name", name, "error", error, "fix", fix));
	p->strict = false;
}

static void
namespace(struct probe *p, const char *name, const char *lack, int flags,
    const char *fix)
{
	char err[256];

	if (sandbox_lacks(p->lacks, lack))
		missing(p, name, SIMULATED, fix);
	else if (flags == CLONE_NEWPID ? in_child(try_pid, NULL, err,
	    sizeof(err)) : in_child(try_unshare, &flags, err, sizeof(err)))
		missing(p, name, err, fix);
	else
		feature(p, name, true, "");
}

static void
landlock(struct probe *p, int *abi)
{
	long v;
	char detail[128];

	*abi = 0;
	if (sandbox_lacks(p->lacks, "landlock")) {
		missing(p, "Landlock", SIMULATED, FIX_LANDLOCK_NONE);
		return;
	}
	v = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (v < 1) {
		missing(p, "Landlock", strerror(errno), errno == EOPNOTSUPP ?
		    FIX_LANDLOCK_OFF : FIX_LANDLOCK_NONE);
		return;
	}
	*abi = (int)v;
	snprintf(detail, sizeof(detail), "ABI %d%s", *abi, *abi >= 6 ?
	    ", signal and abstract socket scoping" : ", no signal scoping "
	    "(ABI 6): the PID namespace keeps signals in");
	feature(p, "Landlock", true, detail);
}

static void
seccomp(struct probe *p)
{
	char err[256];

	if (in_child(try_seccomp, (void *)p->lacks, err, sizeof(err)) != 0)
		missing(p, "seccomp", err, FIX_SECCOMP);
	else
		feature(p, "seccomp", true, "libseccomp filter");
}

static void
proc_and_processes(struct probe *p)
{
	bool root = getuid() == 0, pid_max = root;
	char err[256];

	if (in_child(try_proc, &pid_max, err, sizeof(err)) == 0) {
		feature(p, "private /proc", true, "");
		if (root)
			json_array_append_new(p->notes, json_string("running "
			    "as root: RLIMIT_NPROC does not bind uid 0, so the "
			    "PID namespace's pid_max bounds a check to "
			    "[checks] processes + 300 processes"));
		return;
	}
	pid_max = false;
	if (in_child(try_proc, &pid_max, err, sizeof(err)) == 0) {
		feature(p, "private /proc", true, "");
		json_array_append_new(p->notes, json_string("running as root "
		    "on a kernel without a per-namespace pid_max (Linux 6.14): "
		    "RLIMIT_NPROC does not bind uid 0, so a check's process "
		    "count is not bounded; run masterd as an unprivileged user "
		    "(the systemd unit does)"));
		return;
	}
	feature(p, "private /proc", false, err);
	json_array_append_new(p->notes, json_string("a new /proc is refused "
	    "(a unit with ProtectProc=/ProcSubset= masks the host's): checks "
	    "see the unit's /proc read-only, where masterd's processes are not "
	    "dumpable"));
}

static const char *
summary(const struct probe *p, int abi, char *buf, size_t len)
{
	if (!p->strict)
		return "";
	snprintf(buf, len, "user, mount, PID and network namespaces; "
	    "Landlock ABI %d; seccomp; rlimits", abi);
	return buf;
}

int
sandbox_probe_main(int argc, char **argv)
{
	struct probe p = { .strict = true };
	char err[512], sum[160];
	json_t *out;
	int abi;

	(void)argc;
	(void)argv;
	p.lacks = getenv(SANDBOX_LACKS_ENV);
	p.features = json_array();
	p.missing = json_array();
	p.notes = json_array();
	namespace(&p, "user namespaces", "user", CLONE_NEWUSER, FIX_USERNS);
	namespace(&p, "mount namespaces", "mount",
	    CLONE_NEWUSER | CLONE_NEWNS, FIX_NS);
	namespace(&p, "PID namespaces", "pid", CLONE_NEWPID, FIX_NS);
	namespace(&p, "network namespaces", "net",
	    CLONE_NEWUSER | CLONE_NEWNET, FIX_NS);
	landlock(&p, &abi);
	seccomp(&p);
	if (p.strict) {
		proc_and_processes(&p);
		if (in_child(try_whole, (void *)p.lacks, err, sizeof(err)) != 0)
			missing(&p, "a trial check", err, FIX_TRIAL);
	}
	out = json_pack("{s:b, s:s, s:o, s:o, s:o}", "strict", p.strict,
	    "summary", summary(&p, abi, sum, sizeof(sum)),
	    "features", p.features, "missing", p.missing, "notes", p.notes);
	if (out == NULL || json_dumpf(out, stdout, JSON_COMPACT) != 0) {
		json_decref(out);
		return 2;
	}
	putchar('\n');
	json_decref(out);
	return fflush(stdout) == 0 ? (p.strict ? 0 : 1) : 2;
}
