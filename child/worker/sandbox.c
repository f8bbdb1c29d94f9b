/*
 * sandbox.c — building the sandbox of one check command: the reaper, the
 * namespaces' init and the command (sandbox.h draws the three).
 *
 * Each step that fails stops everything: the command never runs in a
 * weaker sandbox than asked for.  Why it failed goes to the report
 * descriptor, which the runner reads to tell a sandbox that could not be
 * built from a command that failed, and to stderr, which it captures.
 *
 * Ordering matters in a few places:
 *  - the worktree is opened before anything is mounted over its
 *    ancestors, and bound back at its own path afterwards;
 *  - Landlock rules are made after the mounts, so that they name the
 *    private /tmp and /dev/shm, not the host's;
 *  - RLIMIT_AS comes last, since after it this process may fail to
 *    allocate, and the seccomp filter is built with malloc.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "child/worker/confine.h"
#include "child/worker/sandbox.h"

#define EXIT_SANDBOX	126
#define SHELL		"/bin/sh"
/* Pids below this are not reused in a PID namespace once its pids have
 * wrapped around (the kernel's RESERVED_PIDS). */
#define PIDS_RESERVED	300

/* Read-only for every check: the system, its configuration, our /proc. */
static const char *const system_ro[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
	"/etc", "/opt", "/sys", "/proc", "/dev", NULL
};
/* And for a domain with the host's network: the resolver's files. */
static const char *const network_ro[] = {
	"/run/systemd/resolve", "/run/resolvconf", NULL
};
/* Read-write for every check, beside its worktree: private mounts. */
static const char *const private_rw[] = { "/tmp", "/dev/shm", NULL };

bool
sandbox_lacks(const char *lacks, const char *what)
{
	size_t n = strlen(what);
	const char *p = lacks;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, what, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		if ((p = strchr(p, ',')) != NULL)
			p++;
	}
	return false;
}

/* ------------------------------------------------------------ reporting */

/*
 * One line on the report descriptor and on stderr, without stdio: after
 * RLIMIT_AS a buffer may fail to allocate, and the line matters more.
 */
void
sandbox_report(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	memcpy(line, "masterd sandbox: ", 17);
	va_start(ap, fmt);
	n = vsnprintf(line + 17, sizeof(line) - 18, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n = (int)strlen(line);
	line[n++] = '\n';
	if (fcntl(SANDBOX_REPORT_FD, F_GETFD) >= 0)
		(void)write(SANDBOX_REPORT_FD, line, (size_t)n);
	(void)write(STDERR_FILENO, line, (size_t)n);
}

static int
fail(const char *what)
{
	sandbox_report("%s: %s", what, strerror(errno));
	return EXIT_SANDBOX;
}

/* ------------------------------------------------------------ limits */

/* soft = hard = value, lowered to the hard limit we have (an unprivileged
 * process cannot raise it, and the administrator's stricter one wins). */
static int
set_limit(int resource, uint64_t value)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) != 0)
		return -1;
	if (rl.rlim_max != RLIM_INFINITY && value > rl.rlim_max)
		value = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = (rlim_t)value;
	return setrlimit(resource, &rl);
}

/* The command's own limits; 0 is no limit.  RLIMIT_AS last. */
static int
command_limits(const struct sandbox_spec *s)
{
	if (s->cpu_seconds != 0 && set_limit(RLIMIT_CPU, s->cpu_seconds) != 0)
		return fail("RLIMIT_CPU");
	if (s->file_size != 0 && set_limit(RLIMIT_FSIZE, s->file_size) != 0)
		return fail("RLIMIT_FSIZE");
	if (s->memory_bytes != 0 &&
	    set_limit(RLIMIT_AS, s->memory_bytes) != 0)
		return fail("RLIMIT_AS");
	return 0;
}

static void
exec_shell(const char *command)
{
	execl(SHELL, "sh", "-c", command, (char *)NULL);
	sandbox_report("cannot run " SHELL ": %s", strerror(errno));
	_exit(errno == ENOENT ? 127 : EXIT_SANDBOX);
}

/* Pass a child's end on as ours: its exit status, or its death. */
static int
pass_on(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	signal(WTERMSIG(status), SIG_DFL);
	raise(WTERMSIG(status));
	return 128 + WTERMSIG(status);
}

static int
wait_for(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ off */

/* sandbox = off: the limits, then the shell; we wait and pass it on. */
static int
run_unconfined(const struct sandbox_spec *s, const char *command)
{
	int status;
	pid_t pid;

	if ((pid = fork()) < 0)
		return fail("fork");
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		if (s->processes != 0 &&
		    set_limit(RLIMIT_NPROC, s->processes) != 0)
			_exit(fail("RLIMIT_NPROC"));
		if (command_limits(s) != 0)
			_exit(EXIT_SANDBOX);
		exec_shell(command);
	}
	if (wait_for(pid, &status) != 0)
		return fail("waitpid");
	return pass_on(status);
}

/* ------------------------------------------------------------ the command */

/* No capability survives into the command, whatever uid it runs as. */
static int
drop_capabilities(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
	    errno != EINVAL)
		return -1;
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
			return -1;
	}
	return (int)syscall(SYS_capset, &h, d);
}

/* Split PATH's absolute directories into list (pointing into copy). */
static size_t
path_dirs(char *copy, char **list, size_t max)
{
	size_t n = 0;

	for (char *dir = strtok(copy, ":"); dir != NULL && n < max;
	    dir = strtok(NULL, ":")) {
		if (*dir == '/')
			list[n++] = dir;
	}
	return n;
}

static size_t
append(char **list, size_t n, const char *const *more)
{
	for (size_t i = 0; more[i] != NULL; i++)
		list[n++] = (char *)more[i];
	return n;
}

static int
confine_files(const struct sandbox_spec *s)
{
	char *ro[128], *rw[8], path[PATH_MAX] = "", err[512];
	struct landlock_paths p = { .ro = ro, .rw = rw };
	const char *env_path = getenv("PATH");
	int abi = sandbox_lacks(s->lacks, "landlock") ? 0 : landlock_abi();

	if (abi < 1) {
		sandbox_report("Landlock is not available (see masterd -n)");
		return EXIT_SANDBOX;
	}
	if (env_path != NULL)
		snprintf(path, sizeof(path), "%s", env_path);
	p.nro = append(ro, 0, system_ro);
	if (s->network)
		p.nro = append(ro, p.nro, network_ro);
	for (size_t i = 0; i < s->nread && p.nro < 64; i++)
		ro[p.nro++] = s->read[i];
	p.nro += path_dirs(path, ro + p.nro, sizeof(ro) / sizeof(ro[0]) -
	    p.nro);
	rw[0] = (char *)s->workdir;
	p.nrw = append(rw, 1, private_rw);
	if (landlock_confine(abi, &p, err, sizeof(err)) != 0) {
		sandbox_report("%s", err);
		return EXIT_SANDBOX;
	}
	return 0;
}

static int
filter_syscalls(const struct sandbox_spec *s)
{
	char err[512];

	if (sandbox_lacks(s->lacks, "seccomp")) {
		sandbox_report("seccomp filters are not available (see "
		    "masterd -n)");
		return EXIT_SANDBOX;
	}
	if (seccomp_confine(err, sizeof(err)) != 0) {
		sandbox_report("%s", err);
		return EXIT_SANDBOX;
	}
	return 0;
}

static void
run_command(const struct sandbox_spec *s, const char *command)
{
	signal(SIGTERM, SIG_DFL);
	if (drop_capabilities() != 0)
		_exit(fail("dropping capabilities"));
	if (confine_files(s) != 0 || filter_syscalls(s) != 0)
		_exit(EXIT_SANDBOX);
	if (command_limits(s) != 0)
		_exit(EXIT_SANDBOX);
	exec_shell(command);
}

/* ------------------------------------------------------------ init */

static int
mount_tmpfs(const char *where, const char *mode, uint64_t size)
{
	char opts[64];

	if (size != 0)
		snprintf(opts, sizeof(opts), "mode=%s,size=%llu", mode,
		    (unsigned long long)size);
	else
		snprintf(opts, sizeof(opts), "mode=%s", mode);
	return mount("tmpfs", where, "tmpfs", MS_NOSUID | MS_NODEV, opts);
}

/* An empty directory over a directory, /dev/null over anything else. */
static int
hide(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return 0;	/* gone or already hidden */
	if (S_ISDIR(st.st_mode))
		return mount_tmpfs(path, "0700", 16384);
	return mount("/dev/null", path, NULL, MS_BIND, NULL);
}

static int
mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		if ((*p = c) == '\0')
			return 0;
	}
}

/* The worktree where it was, if a mount above it covered it. */
static int
bind_back(int fd, const char *workdir)
{
	struct stat was, now;
	char src[64];

	if (fstat(fd, &was) != 0)
		return -1;
	if (stat(workdir, &now) == 0 && now.st_dev == was.st_dev &&
	    now.st_ino == was.st_ino)
		return 0;
	if (mkdir_p(workdir) != 0)
		return -1;
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	return mount(src, workdir, NULL, MS_BIND | MS_REC, NULL);
}

static int
setup_mounts(const struct sandbox_spec *s)
{
	struct stat st;
	int fd, rc = EXIT_SANDBOX;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return fail("making the mounts private");
	if ((fd = open(s->workdir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return fail(s->workdir);
	/* Under a unit that masks /proc the kernel refuses a new one; the
	 * unit's stays, read-only, its processes not dumpable. */
	(void)mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL);
	if (mount_tmpfs("/tmp", "1777", s->tmp_size) != 0) {
		fail("a private /tmp");
		goto out;
	}
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    mount_tmpfs("/dev/shm", "1777", s->tmp_size) != 0) {
		fail("a private /dev/shm");
		goto out;
	}
	for (size_t i = 0; i < s->nhide; i++) {
		if (hide(s->hide[i]) != 0) {
			fail(s->hide[i]);
			goto out;
		}
	}
	if (bind_back(fd, s->workdir) != 0 || chdir(s->workdir) != 0) {
		fail(s->workdir);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

static int
loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int fd, rc;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return rc;
}

/*
 * The process count: RLIMIT_NPROC (counted in our user namespace, init
 * included), and, since uid 0 ignores it, the namespace's own pid_max
 * where the kernel has one (Linux 6.14).  Once pids wrap, the kernel
 * hands out only those from PIDS_RESERVED up, so pid_max leaves n of
 * them: at most n + 300 processes at first, n after.  A kernel without a
 * pid_max of its own refuses the write; the rlimit then stands alone.
 */
static int
limit_processes(uint64_t n)
{
	char v[32];
	int fd, len;

	if (n == 0)
		return 0;
	if (set_limit(RLIMIT_NPROC, n + 1) != 0)
		return fail("RLIMIT_NPROC");
	len = snprintf(v, sizeof(v), "%llu\n", (unsigned long long)
	    (PIDS_RESERVED + n + 1));
	if ((fd = open("/proc/sys/kernel/pid_max", O_WRONLY | O_CLOEXEC)) >= 0) {
		(void)write(fd, v, (size_t)len);
		close(fd);
	}
	return 0;
}

/* Our parent is gone (or going): nothing to do but die with it. */
static bool
orphaned(int alive)
{
	struct pollfd p = { .fd = alive, .events = POLLIN };

	return poll(&p, 1, 0) != 0;	/* its end closed: POLLHUP */
}

/*
 * pid 1 of the namespace: set up, start the command, reap whatever is
 * reparented to us, and when the command is over, tell the reaper its
 * wait status and leave: the kernel kills the rest of the namespace.
 */
static void
run_init(const struct sandbox_spec *s, const char *command, int alive,
    int status_fd)
{
	int status, rc;
	pid_t pid, cmd;

	signal(SIGTERM, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || orphaned(alive))
		_exit(EXIT_SANDBOX);
	close(alive);
	if ((rc = setup_mounts(s)) != 0)
		_exit(rc);
	if (!s->network && loopback_up() != 0)
		_exit(fail("bringing up the private loopback"));
	if ((rc = limit_processes(s->processes)) != 0)
		_exit(rc);
	if ((cmd = fork()) < 0)
		_exit(fail("fork"));
	if (cmd == 0) {
		close(status_fd);
		run_command(s, command);
	}
	for (;;) {
		pid = waitpid(-1, &status, 0);
		if (pid == cmd)
			break;
		if (pid < 0 && errno != EINTR)
			_exit(EXIT_SANDBOX);
	}
	(void)write(status_fd, &status, sizeof(status));
	_exit(0);
}

/* ------------------------------------------------------------ the reaper */

/* Which namespaces could not be made, for a message worth reading. */
static const char *
which_namespace(const struct sandbox_spec *s)
{
	if (sandbox_lacks(s->lacks, "user"))
		return "a user namespace";
	if (sandbox_lacks(s->lacks, "mount"))
		return "a mount namespace";
	if (sandbox_lacks(s->lacks, "pid"))
		return "a PID namespace";
	if (!s->network && sandbox_lacks(s->lacks, "net"))
		return "a network namespace";
	return NULL;
}

static int
write_file(const char *path, const char *text)
{
	int fd, rc;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return rc;
}

/* Into new namespaces, as ourselves: the same uid and gid inside. */
static int
enter_namespaces(const struct sandbox_spec *s)
{
	int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID;
	uid_t uid = getuid();
	gid_t gid = getgid();
	const char *lacking = which_namespace(s);
	char map[64];

	if (lacking != NULL) {
		sandbox_report("cannot make %s: not available (see masterd -n)",
		    lacking);
		return EXIT_SANDBOX;
	}
	if (!s->network)
		flags |= CLONE_NEWNET;
	if (unshare(flags) != 0)
		return fail("cannot make the user, mount, PID and network "
		    "namespaces (see masterd -n)");
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) != 0)
		return fail("uid_map");
	if (write_file("/proc/self/setgroups", "deny\n") != 0 &&
	    errno != ENOENT)
		return fail("setgroups");
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if (write_file("/proc/self/gid_map", map) != 0)
		return fail("gid_map");
	return 0;
}

static int
run_confined(const struct sandbox_spec *s, const char *command)
{
	int alive[2], st[2], rc, status, cmd_status;
	pid_t init;
	ssize_t n;

	if ((rc = enter_namespaces(s)) != 0)
		return rc;
	if (pipe2(alive, O_CLOEXEC) != 0 || pipe2(st, O_CLOEXEC) != 0)
		return fail("pipe");
	if ((init = fork()) < 0)
		return fail("fork");
	if (init == 0) {
		close(alive[1]);
		close(st[0]);
		run_init(s, command, alive[0], st[1]);
	}
	close(alive[0]);
	close(st[1]);
	rc = wait_for(init, &status);
	n = read(st[0], &cmd_status, sizeof(cmd_status));
	close(st[0]);
	close(alive[1]);
	if (rc != 0)
		return fail("waitpid");
	if (n == (ssize_t)sizeof(cmd_status))
		return pass_on(cmd_status);
	/* init ended before the command did: it said why, or was killed. */
	if (WIFSIGNALED(status))
		return pass_on(status);
	return WIFEXITED(status) && WEXITSTATUS(status) != 0 ?
	    WEXITSTATUS(status) : EXIT_SANDBOX;
}

int
sandbox_exec(const struct sandbox_spec *s, const char *command)
{
	if (s->off)
		return run_unconfined(s, command);
	if (s->workdir == NULL || *s->workdir != '/') {
		sandbox_report("the directory checked must be an absolute path");
		return EXIT_SANDBOX;
	}
	return run_confined(s, command);
}
