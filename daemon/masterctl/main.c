/*
 * main.c — masterctl, the control client of masterd, as smtpctl is to
 * smtpd: its options and its commands, one per control request.
 *
 * Options go anywhere on the line, before or after the command, as
 * --name VALUE or --name=VALUE; "--" ends them.  Human output by default,
 * the answers as they are with --json.  A mistyped command or option gets
 * a "did you mean".  Exit status: 0 ok, 1 refused or failed, 2 usage,
 * 3 masterd unreachable, 4 the task that submit --wait followed paused.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/termsafe.h"
#include "common/util.h"
#include "common/version.h"
#include "daemon/masterctl/ctl.h"

enum opt_bit {
	O_TASK = 1 << 0,
	O_DOMAINS = 1 << 1,
	O_DIRECTIVES = 1 << 2,
	O_PROMPT = 1 << 3,
	O_PRIORITY = 1 << 4,
	O_WAIT = 1 << 5,
	O_LAST = 1 << 6,
	O_BUDGET = 1 << 7,
	O_DIFF = 1 << 8,
	O_ROUNDS = 1 << 9,
	O_ALL = 1 << 10,
	O_SINCE = 1 << 11,
	O_TAIL = 1 << 12,
	O_FINISHED = 1 << 13,
	O_GRAPH = 1 << 14,
	O_TO = 1 << 15,
	O_BRANCH = 1 << 16,
	O_REPO = 1 << 18,
	O_GLOBAL = 1 << 17,	/* any command takes it */
};

enum opt_kind { VALUE, FLAG, MAYBE };	/* MAYBE: --graph or --graph=dot */

static const struct optdef {
	const char *name;
	char letter;
	unsigned bit;
	enum opt_kind kind;
	size_t off;		/* of the value or flag in struct opts */
} optdefs[] = {
	{ "--task", 0, O_TASK, VALUE, offsetof(struct opts, task) },
	{ "--domains", 0, O_DOMAINS, VALUE, offsetof(struct opts, domains) },
	{ "--directives", 0, O_DIRECTIVES, VALUE,
	  offsetof(struct opts, directives) },
	{ "--prompt", 0, O_PROMPT, VALUE, offsetof(struct opts, prompt) },
	{ "--priority", 0, O_PRIORITY, VALUE, offsetof(struct opts, priority) },
	{ "--last", 0, O_LAST, VALUE, offsetof(struct opts, last) },
	{ "--budget", 0, O_BUDGET, VALUE, offsetof(struct opts, budget) },
	{ "--diff", 0, O_DIFF, VALUE, offsetof(struct opts, diff) },
	{ "--rounds", 0, O_ROUNDS, VALUE, offsetof(struct opts, rounds) },
	{ "--since", 0, O_SINCE, VALUE, offsetof(struct opts, since) },
	{ "--tail", 0, O_TAIL, VALUE, offsetof(struct opts, tail) },
	{ "--finished", 0, O_FINISHED, VALUE, offsetof(struct opts, finished) },
	{ "--graph", 0, O_GRAPH, MAYBE, offsetof(struct opts, graph) },
	{ "--dot", 0, O_GRAPH, MAYBE, offsetof(struct opts, graph) },
	{ "--to", 0, O_TO, VALUE, offsetof(struct opts, to) },
	{ "--branch", 0, O_BRANCH, VALUE, offsetof(struct opts, branch) },
	{ "--repo", 0, O_REPO, VALUE, offsetof(struct opts, repo) },
	{ "--wait", 0, O_WAIT, FLAG, offsetof(struct opts, wait) },
	{ "--all", 0, O_ALL, FLAG, offsetof(struct opts, all) },
	/* global: handled in main() */
	{ "--socket", 's', O_GLOBAL, VALUE, 0 },
	{ "--json", 'j', O_GLOBAL, FLAG, 0 },
	{ "--verbose", 'v', O_GLOBAL, FLAG, 0 },
	{ "--no-pager", 0, O_GLOBAL, FLAG, 0 },
	{ "--help", 'h', O_GLOBAL, FLAG, 0 },
	{ "--version", 'V', O_GLOBAL, FLAG, 0 },
};
#define NOPTS (sizeof(optdefs) / sizeof(optdefs[0]))

typedef int command_fn(struct ctl *, const struct opts *, int, char **);

struct command {
	const char *name;
	const char *args;
	unsigned opts;
	int min_args, max_args;		/* positional */
	command_fn *run;
	const char *help;
};

static int cmd_help(struct ctl *, const struct opts *, int, char **);

static const struct command commands[] = {
	{ "submit", "TEXT [--domains a,b|a=PATH,b=PATH] [--directives FILE] "
	    "[--budget tokens=N,cost=X,rounds=N,time=S] "
	    "[--repo PATH|URL [--branch B]] [--wait]",
	    O_DOMAINS | O_DIRECTIVES | O_BUDGET | O_WAIT | O_REPO | O_BRANCH,
	    1, 1, cmd_submit, "create a task (--repo: from an existing git "
	    "repository, its history kept; --wait: follow it live to its "
	    "end)" },
	{ "status", "", 0, 0, 0, cmd_status, "daemon, registry and children" },
	{ "tasks", "", 0, 0, 0, cmd_tasks, "list tasks" },
	{ "task", "ID [--rounds N | --all]", O_TASK | O_ROUNDS | O_ALL, 0, 1,
	    cmd_task, "one task at a glance: domains, budget, what remains" },
	{ "domains", "[TASK]", O_TASK, 0, 1, cmd_domains,
	    "domains and children" },
	{ "interface", "DOMAIN [VERSION | --diff A B] [--task ID]",
	    O_TASK | O_DIFF, 1, 2, cmd_interface,
	    "a domain's interface, or what changed" },
	{ "interfaces", "[TASK] [--graph[=text|dot] | --dot]",
	    O_TASK | O_GRAPH, 0, 1, cmd_interfaces,
	    "every domain's latest interface, or who consumes what" },
	{ "directive", "DOMAIN TEXT [--task ID] [--priority N]",
	    O_TASK | O_PRIORITY, 2, 2, cmd_directive,
	    "queue a directive for a domain" },
	{ "spawn", "TASK DOMAIN [--prompt TEXT]", O_PROMPT, 2, 2, cmd_spawn,
	    "add a domain to a task" },
	{ "restart", "DOMAIN [--task ID]", O_TASK, 1, 1, cmd_restart,
	    "restart a domain's child (clears FATAL)" },
	{ "pause", "[TASK]", O_TASK, 0, 1, cmd_pause, "stop handing out work" },
	{ "resume", "[TASK]", O_TASK, 0, 1, cmd_resume,
	    "hand out work again" },
	{ "cancel", "TASK", 0, 1, 1, cmd_cancel, "end a task" },
	{ "questions", "[TASK]", O_TASK, 0, 1, cmd_questions,
	    "what waits for you: questions asked, plans and merges" },
	{ "answer", "ID TEXT", 0, 2, 2, cmd_answer,
	    "answer a question (the asker goes on with it)" },
	{ "deadline", "ID DURATION|now|none", 0, 2, 2, cmd_deadline,
	    "when an unanswered question's asker goes on with its assumption" },
	{ "approve", "TASK [ID]", 0, 1, 2, cmd_approve,
	    "let a plan or merge that waits go on" },
	{ "reject", "TASK [ID] REASON", 0, 2, 3, cmd_reject,
	    "refuse a plan or merge that waits; the reason goes back" },
	{ "watch", "[TASK] [--tail N | --since TIME]",
	    O_TASK | O_TAIL | O_SINCE, 0, 1, cmd_watch,
	    "follow events live (ends with its task)" },
	{ "budget", "TASK tokens=N cost=X rounds=N time=S", 0, 2, 5,
	    cmd_budget, "change a task's limits (0: none)" },
	{ "transcript", "DOMAIN [--task ID] [--last N]", O_TASK | O_LAST, 1,
	    1, cmd_transcript, "a domain's conversation with its model" },
	{ "backup", "FILE", 0, 1, 1, cmd_backup,
	    "a consistent copy of the registry, taken live" },
	{ "prune", "[--finished DAYS]", O_FINISHED, 0, 0, cmd_prune,
	    "delete expired progress events and the files of cancelled "
	    "tasks (and of tasks finished DAYS ago)" },
	{ "export", "TASK DIR", 0, 2, 2, cmd_export,
	    "write the files of a task's main into a new directory" },
	{ "push", "TASK --to PATH|URL [--branch NAME]", O_TO | O_BRANCH, 1, 1,
	    cmd_push, "put a task's main on a branch of your repository "
	    "(default masterd/task-N; never forced)" },
	{ "reload", "", 0, 0, 0, cmd_reload,
	    "re-read masterd's configuration (as SIGHUP)" },
	{ "metrics", "", 0, 0, 0, cmd_metrics,
	    "the Prometheus text format of masterd's numbers" },
	{ "stop", "", 0, 0, 0, cmd_stop, "stop masterd" },
	{ "help", "[COMMAND]", 0, 0, 1, cmd_help, "this text" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: masterctl [-s SOCKET] [--json] [--verbose] COMMAND "
	    "[ARGS]\n\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %-46s %s\n", commands[i].name,
		    commands[i].args, commands[i].help);
	fprintf(f, "\nOptions go before or after the command.  -s, --socket: "
	    "masterd's socket (else\n$MASTERD_SOCKET, else its default); "
	    "-j, --json: the answers as JSON;\n-v, --verbose: every event in "
	    "watch; --no-pager; -V, --version; -h, --help.\nExit: 0 ok, 1 "
	    "refused or failed, 2 usage, 3 masterd unreachable,\n4 the task "
	    "submit --wait followed paused.\n");
}

static void
command_usage(FILE *f, const struct command *cmd)
{
	fprintf(f, "usage: masterctl %s %s\n", cmd->name, cmd->args);
}

static int
cmd_help(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	const struct command *cmd;

	if (argc == 1 && (cmd = find_command(argv[0])) != NULL) {
		command_usage(stdout, cmd);
		printf("  %s\n", cmd->help);
		return EXIT_OK;
	}
	usage(stdout);
	return EXIT_OK;
}

/* ---------------------------------------------------------- options */

/* What the command line said, options and positionals apart. */
struct line {
	struct opts o;
	unsigned seen;		/* O_* bits given */
	const char *seen_name[16];	/* the spelling, per bit */
	const char *socket;
	bool json, verbose, no_pager, help, version;
	char **pos;		/* the command first */
	int npos;
};

static const struct optdef *
find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strlen(optdefs[i].name) == len &&
		    strncmp(optdefs[i].name, name, len) == 0)
			return &optdefs[i];
	return NULL;
}

static const struct optdef *
find_letter(char letter)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (optdefs[i].letter == letter)
			return &optdefs[i];
	return NULL;
}

static void
unknown_option(const char *a)
{
	const char *names[NOPTS], *near;
	char word[64];

	for (size_t i = 0; i < NOPTS; i++)
		names[i] = optdefs[i].name;
	snprintf(word, sizeof(word), "%.*s", (int)strcspn(a, "="), a);
	near = nearest(word, names, NOPTS);
	fprintf(stderr, "masterctl: unknown option '%s'%s%s%s\n", word,
	    near ? "; did you mean '" : "", near ? near : "",
	    near ? "'?" : "");
}

static void
set_global(struct line *l, const struct optdef *d, const char *value)
{
	switch (d->letter) {
	case 's': l->socket = value; break;
	case 'j': l->json = true; break;
	case 'v': l->verbose = true; break;
	case 'h': l->help = true; break;
	case 'V': l->version = true; break;
	default: l->no_pager = true; break;
	}
}

/* One option at argv[*i] (value from "=" or the next word): 0 or -1. */
static int
take_option(struct line *l, const struct optdef *d, const char *spelled,
    const char *eq, int argc, char **argv, int *i)
{
	const char *value = NULL;
	int b;

	if (d->kind == FLAG && eq != NULL) {
		fprintf(stderr, "masterctl: %s takes no value\n", d->name);
		return -1;
	}
	if (d->kind == VALUE) {
		if (eq != NULL)
			value = eq + 1;
		else if (*i + 1 < argc)
			value = argv[++*i];
		else {
			fprintf(stderr, "masterctl: %s needs a value\n",
			    d->name);
			return -1;
		}
	} else if (d->kind == MAYBE) {
		value = eq != NULL ? eq + 1 : strcmp(d->name, "--dot") == 0 ?
		    "dot" : "text";
	}
	if (d->bit == O_GLOBAL) {
		set_global(l, d, value);
		return 0;
	}
	l->seen |= d->bit;
	for (b = 0; b < 16; b++)
		if (d->bit == 1u << b)
			l->seen_name[b] = spelled;
	if (d->kind == FLAG)
		*(bool *)((char *)&l->o + d->off) = true;
	else
		*(const char **)((char *)&l->o + d->off) = value;
	return 0;
}

/* -j, -v, -h, -V, -s SOCKET (or -sSOCKET), grouped or not. */
static int
take_letters(struct line *l, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	const struct optdef *d;

	for (size_t k = 1; a[k] != '\0'; k++) {
		if ((d = find_letter(a[k])) == NULL) {
			fprintf(stderr, "masterctl: unknown option '-%c'\n",
			    a[k]);
			return -1;
		}
		if (d->kind != VALUE) {
			set_global(l, d, NULL);
			continue;
		}
		if (a[k + 1] != '\0')
			set_global(l, d, a + k + 1);
		else if (*i + 1 < argc)
			set_global(l, d, argv[++*i]);
		else {
			fprintf(stderr, "masterctl: -%c needs a value\n", a[k]);
			return -1;
		}
		break;
	}
	return 0;
}

static int
parse_line(int argc, char **argv, struct line *l)
{
	const struct optdef *d;
	const char *eq;
	bool ended = false;

	memset(l, 0, sizeof(*l));
	l->pos = xcalloc((size_t)argc + 1, sizeof(char *));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (ended || a[0] != '-' || a[1] == '\0') {
			l->pos[l->npos++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			ended = true;
			continue;
		}
		if (a[1] != '-') {
			if (take_letters(l, argc, argv, &i) != 0)
				return -1;
			continue;
		}
		eq = strchr(a, '=');
		if ((d = find_opt(a, eq ? (size_t)(eq - a) : strlen(a))) ==
		    NULL) {
			unknown_option(a);
			return -1;
		}
		if (take_option(l, d, d->name, eq, argc, argv, &i) != 0)
			return -1;
	}
	return 0;
}

/* Options the command does not take: said, with the command's usage. */
static int
check_allowed(const struct line *l, const struct command *cmd)
{
	unsigned extra = l->seen & ~cmd->opts;

	for (int b = 0; b < 16; b++)
		if (extra & (1u << b)) {
			fprintf(stderr, "masterctl: %s takes no %s\n",
			    cmd->name, l->seen_name[b]);
			return -1;
		}
	return 0;
}

static const struct command *
which_command(const char *name)
{
	const char *names[NCOMMANDS], *near;
	const struct command *cmd;

	if ((cmd = find_command(name)) != NULL)
		return cmd;
	for (size_t i = 0; i < NCOMMANDS; i++)
		names[i] = commands[i].name;
	near = nearest(name, names, NCOMMANDS);
	fprintf(stderr, "masterctl: unknown command '%s'%s%s%s\n", name,
	    near ? "; did you mean '" : "", near ? near : "",
	    near ? "'?" : "");
	fprintf(stderr, "'masterctl help' lists the commands\n");
	return NULL;
}

/* ---------------------------------------------------------- output */

/*
 * What masterd sends may hold terminal control sequences (a model's text,
 * a task's): human output, on a terminal or not, shows every control
 * character escaped, and so does stderr, where masterd's error messages
 * go.  --json output stays as it is: JSON escapes C0 itself, and a
 * program reads it.  The live view writes its own cursor movements to
 * the descriptor, past the stream.
 */
struct saved_output {
	FILE *out, *err;	/* the streams replaced, or NULL */
};

static void
escape_output(const struct ctl *c, struct saved_output *saved)
{
	FILE *f;

	fflush(stdout);
	fflush(stderr);
	if (!c->json && (f = termsafe_open(STDOUT_FILENO,
	    isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF)) != NULL) {
		saved->out = stdout;
		stdout = f;
	}
	if ((f = termsafe_open(STDERR_FILENO, _IONBF)) != NULL) {
		saved->err = stderr;
		stderr = f;
	}
}

/* Flush the escaping streams and put the plain ones back. */
static void
restore_output(struct saved_output *saved)
{
	if (saved->out != NULL) {
		fclose(stdout);
		stdout = saved->out;
	}
	if (saved->err != NULL) {
		fclose(stderr);
		stderr = saved->err;
	}
}

/* ---------------------------------------------------------- main */

static int
run(struct line *l, const struct command *cmd)
{
	struct ctl c = { .fd = -1 };
	struct saved_output saved = { NULL, NULL };
	char *dflt = NULL;
	int rc;

	c.json = l->json;
	c.verbose = l->verbose;
	c.no_pager = l->no_pager;
	c.tty = isatty(STDOUT_FILENO);
	c.socket = l->socket;
	escape_output(&c, &saved);
	if (c.socket == NULL)
		c.socket = getenv("MASTERD_SOCKET");
	if (c.socket == NULL)
		c.socket = dflt = conf_default_socket();
	frame_decoder_init(&c.dec, 64u * 1024u * 1024u);
	rc = cmd->run(&c, &l->o, l->npos - 1, l->pos + 1);
	if (rc == EXIT_USAGE)
		command_usage(stderr, cmd);
	if (c.fd >= 0)
		close(c.fd);
	frame_decoder_free(&c.dec);
	json_decref(c.pending);
	free(dflt);
	restore_output(&saved);
	return rc;
}

int
main(int argc, char **argv)
{
	const struct command *cmd;
	struct line l;
	int rc;

	util_init();
	if (parse_line(argc, argv, &l) != 0) {
		fprintf(stderr, "'masterctl help' lists the commands and their "
		    "options\n");
		free(l.pos);
		return EXIT_USAGE;
	}
	if (l.version) {
		printf("masterctl %s (protocol %d)\n", MASTERD_VERSION,
		    PROTO_VERSION);
		free(l.pos);
		return EXIT_OK;
	}
	if (l.npos == 0) {
		usage(l.help ? stdout : stderr);
		free(l.pos);
		return l.help ? EXIT_OK : EXIT_USAGE;
	}
	if ((cmd = which_command(l.pos[0])) == NULL) {
		free(l.pos);
		return EXIT_USAGE;
	}
	if (l.help || cmd->run == cmd_help) {
		rc = cmd_help(NULL, &l.o, l.help ? 1 : l.npos - 1,
		    l.help ? l.pos : l.pos + 1);
		free(l.pos);
		return rc;
	}
	if (check_allowed(&l, cmd) != 0 || l.npos - 1 < cmd->min_args ||
	    l.npos - 1 > cmd->max_args) {
		command_usage(stderr, cmd);
		free(l.pos);
		return EXIT_USAGE;
	}
	rc = run(&l, cmd);
	free(l.pos);
	return rc;
}
