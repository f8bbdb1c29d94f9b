/*
 * test_tools.c — the domain's tools (child/worker/tools.c), the file map
 * and the files' contents for prompts (child/worker/filemap.c).
 *
 * Each test gets a temporary directory holding the domain folder "dom"
 * and, beside it, "outside" with a secret no tool may read, write or
 * delete.  Every tool's happy path is checked against its exact output,
 * every error against its exact text; hostile paths ("..", absolute,
 * .git, a symlink to outside planted in the folder, a symlinked parent)
 * are refused and leave outside untouched; the per-round limits are hit
 * and reported; the map and the contents keep their budgets.
 */
#include "testutil.h"

#include <jansson.h>

#include "child/worker/tools.h"
#include "common/iface.h"
#include "common/util.h"

struct fx {
	char dir[PATH_MAX];
	char dom[PATH_MAX];
	char outside[PATH_MAX];
	int dirfd;
	struct tool_ctx ctx;
	json_t *peers;
};

static int
setup(void **state)
{
	struct fx *f = tu_fixture(sizeof(*f), offsetof(struct fx, dir));
	struct tool_limits lim = TOOL_LIMITS_DEFAULT;
	char secret[PATH_MAX];

	TU_JOIN(f->dom, f->dir, "dom");
	TU_JOIN(f->outside, f->dir, "outside");
	assert_int_equal(mkdir(f->dom, 0755), 0);
	assert_int_equal(mkdir(f->outside, 0755), 0);
	TU_JOIN(secret, f->outside, "secret.txt");
	tu_write_file(secret, "secret\n");
	f->dirfd = open(f->dom, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dirfd >= 0);
	f->peers = json_array();
	tool_ctx_init(&f->ctx, f->dirfd, "logic", f->peers, &lim);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tool_ctx_free(&f->ctx);
	json_decref(f->peers);
	close(f->dirfd);
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

/* dom/rel with text, parents made. */
static void
put(struct fx *f, const char *rel, const char *text)
{
	char path[PATH_MAX], *slash;

	TU_JOIN(path, f->dom, rel);
	for (slash = strchr(path + strlen(f->dom) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		(void)mkdir(path, 0755);
		*slash = '/';
	}
	tu_write_file(path, text);
}

static char *
get(struct fx *f, const char *rel)
{
	char path[PATH_MAX];

	TU_JOIN(path, f->dom, rel);
	return tu_read_file(path);
}

static void
expect_content(struct fx *f, const char *rel, const char *want)
{
	char *got = get(f, rel);

	if (got == NULL)
		fail_msg("%s: missing, wanted \"%s\"", rel, want);
	if (strcmp(got, want) != 0)
		fail_msg("%s: \"%s\", wanted \"%s\"", rel, got, want);
	free(got);
}

/* A symlink dom/rel -> target. */
static void
plant(struct fx *f, const char *rel, const char *target)
{
	char path[PATH_MAX];

	TU_JOIN(path, f->dom, rel);
	assert_int_equal(symlink(target, path), 0);
}

static void
expect_secret_intact(struct fx *f)
{
	char path[PATH_MAX], *s;

	TU_JOIN(path, f->outside, "secret.txt");
	s = tu_read_file(path);
	assert_non_null(s);
	assert_string_equal(s, "secret\n");
	free(s);
	assert_int_equal(tu_count_entries(f->outside), 1);
}

static void
expect_ok(struct fx *f, const char *tool, const char *args, const char *want)
{
	bool is_error = true;
	char *out = tools_run(&f->ctx, tool, args, &is_error);

	if (is_error)
		fail_msg("%s %s failed: %s", tool, args, out);
	if (strcmp(out, want) != 0)
		fail_msg("%s %s:\n---got\n%s---wanted\n%s---", tool, args, out,
		    want);
	free(out);
}

static void
expect_err(struct fx *f, const char *tool, const char *args, const char *want)
{
	bool is_error = false;
	char *out = tools_run(&f->ctx, tool, args, &is_error);

	if (!is_error)
		fail_msg("%s %s succeeded: %s", tool, args, out);
	if (strcmp(out, want) != 0)
		fail_msg("%s %s:\n  got \"%s\"\nwanted \"%s\"", tool, args,
		    out, want);
	free(out);
}

static bool
marked(const json_t *set, const char *path)
{
	return json_is_true(json_object_get(set, path));
}

/* ------------------------------------------------------------ schema */

static void
test_schema(void **state)
{
	static const char *const names[] = { "list_files", "read_file",
	    "search", "write_file", "edit_file", "delete_file",
	    "peer_interfaces", "ask_user", "run_checks", "finish" };
	json_t *s = tools_schema(), *t, *p, *iface;
	const char *desc;
	size_t i;

	(void)state;
	assert_int_equal(json_array_size(s), TU_NITEMS(names));
	json_array_foreach(s, i, t) {
		assert_string_equal(jget_str(t, "name"), names[i]);
		assert_true(strlen(jget_str(t, "description")) > 20);
		p = json_object_get(t, "parameters");
		assert_string_equal(jget_str(p, "type"), "object");
		assert_true(json_is_object(json_object_get(p, "properties")));
		assert_true(json_is_array(json_object_get(p, "required")));
		assert_true(json_is_false(json_object_get(p,
		    "additionalProperties")));
	}
	desc = jget_str(json_array_get(s, 1), "description");
	assert_non_null(strstr(desc, "\"   12| text\""));
	assert_non_null(strstr(desc, "capped"));
	desc = jget_str(json_array_get(s, 4), "description");
	assert_non_null(strstr(desc, "exactly once"));
	assert_non_null(strstr(desc, "surrounding lines"));
	/* finish: every kind named, the answer's interface schema. */
	t = json_array_get(s, 9);
	desc = jget_str(t, "description");
	assert_non_null(strstr(desc, "complete current interface"));
	for (i = 0; iface_kinds[i] != NULL; i++)
		assert_non_null(strstr(desc, iface_kinds[i]));
	p = json_object_get(json_object_get(t, "parameters"), "properties");
	iface = json_object_get(p, "interface");
	assert_string_equal(jget_str(iface, "type"), "object");
	assert_non_null(json_object_get(json_object_get(iface, "properties"),
	    "provides"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(t, "parameters"), "required"), 0)), "summary");
	json_decref(s);

	assert_int_equal(tools_kind("read_file"), TOOL_SYNC);
	assert_int_equal(tools_kind("peer_interfaces"), TOOL_SYNC);
	assert_int_equal(tools_kind("run_checks"), TOOL_CHECKS);
	assert_int_equal(tools_kind("finish"), TOOL_FINISH);
	assert_int_equal(tools_kind("rm_rf"), TOOL_UNKNOWN);
	assert_int_equal(tools_kind(NULL), TOOL_UNKNOWN);
}

/* ------------------------------------------------------------ arguments */

static void
test_arguments(void **state)
{
	struct fx *f = *state;

	put(f, "a.txt", "a\n");
	expect_err(f, "read_file", "{\"path\": ", "read_file: arguments are "
	    "not JSON: unexpected token near end of file");
	expect_err(f, "read_file", "[\"a.txt\"]", "read_file: arguments must "
	    "be a JSON object, not an array");
	expect_err(f, "read_file", "{}", "read_file: path: required string");
	expect_err(f, "read_file", "", "read_file: path: required string");
	expect_err(f, "read_file", "{\"path\": null}",
	    "read_file: path: required string");
	expect_err(f, "read_file", "{\"path\": 3}",
	    "read_file: path: must be a string, not a number");
	expect_err(f, "read_file", "{\"path\": \"a.txt\", \"start\": \"1\"}",
	    "read_file: start: must be a line number (1 or more)");
	expect_err(f, "read_file", "{\"path\": \"a.txt\", \"end\": 0}",
	    "read_file: end: must be a line number (1 or more)");
	expect_err(f, "read_file", "{\"path\": \"a.txt\", \"lines\": 3}",
	    "read_file: unknown argument \"lines\" (arguments: "
	    "[\"path\",\"start\",\"end\"])");
	expect_err(f, "edit_file", "{\"path\": \"a.txt\", \"old\": \"a\"}",
	    "edit_file: new: required string");
	expect_err(f, "write_file", "{\"path\": \"a.txt\", \"content\": 1}",
	    "write_file: content: must be a string, not a number");
	expect_err(f, "rm_rf", "{}", "rm_rf: no such tool (tools: list_files, "
	    "read_file, search, write_file, edit_file, delete_file, "
	    "peer_interfaces, ask_user, run_checks, finish)");
	expect_err(f, "finish", "{}", "finish: not run here: the round runs "
	    "it");
	/* Every call counts, failed or not. */
	assert_int_equal(f->ctx.calls, 13);
	assert_int_equal(json_object_size(f->ctx.shown), 0);
}

static void
test_call_limit(void **state)
{
	struct fx *f = *state;

	f->ctx.lim.round_calls = 2;
	put(f, "a.txt", "a\n");
	expect_ok(f, "read_file", "{\"path\": \"a.txt\"}", "    1| a\n");
	expect_err(f, "read_file", "{}", "read_file: path: required string");
	expect_err(f, "read_file", "{\"path\": \"a.txt\"}", "read_file: tool "
	    "call limit (2 per round) reached: call finish");
	expect_err(f, "list_files", "{}", "list_files: tool call limit (2 per "
	    "round) reached: call finish");
	assert_int_equal(f->ctx.calls, 2);
}

/* ------------------------------------------------------------ list_files */

static void
test_list(void **state)
{
	struct fx *f = *state;

	expect_ok(f, "list_files", "{}", "(no files)\n");
	put(f, "b.py", "print(1)\n");
	put(f, "src/a.c", "int x;\n");
	put(f, "src/deep/z.txt", "");
	put(f, ".interface.json", "{}");
	put(f, ".git/config", "[core]\n");
	put(f, "sub/.GIT/x", "x");
	plant(f, "link", "../outside/secret.txt");
	plant(f, "ldir", "../outside");
	expect_ok(f, "list_files", "{}", "2 .interface.json\n9 b.py\n"
	    "7 src/a.c\n0 src/deep/z.txt\n");
	expect_ok(f, "list_files", "{\"path\": \"./src/\"}", "7 src/a.c\n"
	    "0 src/deep/z.txt\n");
	expect_ok(f, "list_files", "{\"path\": \"sub\"}", "(no files)\n");
	expect_err(f, "list_files", "{\"path\": \"../outside\"}",
	    "list_files: ../outside: path contains \"..\"");
	expect_err(f, "list_files", "{\"path\": \"/etc\"}",
	    "list_files: /etc: absolute path");
	expect_err(f, "list_files", "{\"path\": \".git\"}",
	    "list_files: .git: path leads into .git");
	expect_err(f, "list_files", "{\"path\": \"ldir\"}",
	    "list_files: ldir: path is a symlink");
	expect_err(f, "list_files", "{\"path\": \"nope\"}",
	    "list_files: nope: no such folder");
	expect_err(f, "list_files", "{\"path\": \"b.py\"}",
	    "list_files: b.py: not a folder");

	f->ctx.lim.list_max = 2;
	expect_ok(f, "list_files", "{}", "2 .interface.json\n9 b.py\n"
	    "[cut at 2 files: list a subfolder]\n");
}

/* ------------------------------------------------------------ read_file */

static void
test_read(void **state)
{
	struct fx *f = *state;

	put(f, "src/app.py", "import os\n\ndef main():\n    return 0\n");
	put(f, "noeol.txt", "one\ntwo");
	put(f, "empty.txt", "");
	expect_ok(f, "read_file", "{\"path\": \"src/app.py\"}",
	    "    1| import os\n    2| \n    3| def main():\n"
	    "    4|     return 0\n");
	assert_true(marked(f->ctx.shown, "src/app.py"));
	expect_ok(f, "read_file", "{\"path\": \"src//app.py\", \"start\": 3}",
	    "    3| def main():\n    4|     return 0\n");
	expect_ok(f, "read_file", "{\"path\": \"src/app.py\", \"start\": 2, "
	    "\"end\": 3}", "    2| \n    3| def main():\n");
	expect_ok(f, "read_file", "{\"path\": \"src/app.py\", \"end\": 99}",
	    "    1| import os\n    2| \n    3| def main():\n"
	    "    4|     return 0\n");
	expect_ok(f, "read_file", "{\"path\": \"noeol.txt\"}",
	    "    1| one\n    2| two\n");
	expect_ok(f, "read_file", "{\"path\": \"empty.txt\"}",
	    "(empty.txt is empty)\n");
	expect_err(f, "read_file", "{\"path\": \"src/app.py\", \"start\": 5}",
	    "read_file: start: line 5 is past the end of src/app.py (4 "
	    "lines)");
	expect_err(f, "read_file", "{\"path\": \"src/app.py\", \"start\": 3, "
	    "\"end\": 2}", "read_file: end: line 2 is before start (line 3)");
	expect_err(f, "read_file", "{\"path\": \"missing.py\"}",
	    "read_file: missing.py: no such file");
	expect_err(f, "read_file", "{\"path\": \"src\"}",
	    "read_file: src: not a regular file");
	assert_false(marked(f->ctx.shown, "missing.py"));
}

static void
test_read_binary_and_utf8(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];
	FILE *fp;

	TU_JOIN(path, f->dom, "img.png");
	fp = fopen(path, "w");
	assert_non_null(fp);
	fwrite("\x89PNG\0\0\x01", 1, 7, fp);
	fclose(fp);
	expect_ok(f, "read_file", "{\"path\": \"img.png\"}",
	    "(img.png is a binary file of 7 bytes: not shown)\n");
	assert_false(marked(f->ctx.shown, "img.png"));
	/* Bytes that are not UTF-8 reach the model as '?'. */
	put(f, "latin1.txt", "caf\xe9\n");
	expect_ok(f, "read_file", "{\"path\": \"latin1.txt\"}",
	    "    1| caf?\n");
}

static void
test_read_limits(void **state)
{
	struct fx *f = *state;
	char big[64 * 12 + 1] = "";

	/* 64 lines shown as "    N| abcdefghijk\n", 19 bytes each. */
	for (int i = 0; i < 64; i++)
		strcat(big, "abcdefghijk\n");
	put(f, "big.txt", big);
	f->ctx.lim.read_max = 50;
	f->ctx.lim.round_read = 120;
	expect_ok(f, "read_file", "{\"path\": \"big.txt\"}",
	    "    1| abcdefghijk\n    2| abcdefghijk\n"
	    "[cut at 50 bytes: read lines 3- with start/end]\n");
	assert_true(marked(f->ctx.shown, "big.txt"));
	/* 38 + the note = 86 bytes read; 34 left this round. */
	assert_int_equal(f->ctx.bytes_read, 86);
	expect_ok(f, "read_file", "{\"path\": \"big.txt\", \"start\": 3}",
	    "    3| abcdefghijk\n[cut at 34 bytes (the rest of this round's "
	    "read limit): read lines 4- with start/end]\n");
	expect_err(f, "read_file", "{\"path\": \"big.txt\", \"start\": 4}",
	    "read_file: read limit (120 bytes per round) reached: work with "
	    "what you have read, or call finish");

	/* A line longer than the cap is shown cut. */
	tool_ctx_free(&f->ctx);
	tool_ctx_init(&f->ctx, f->dirfd, "logic", f->peers, NULL);
	f->ctx.lim.read_max = 12;
	put(f, "long.txt", "0123456789abcdef\nnext\n");
	expect_ok(f, "read_file", "{\"path\": \"long.txt\"}",
	    "    1| 0123\n[cut at 12 bytes: read lines 2- with "
	    "start/end]\n");
}

/* ------------------------------------------------------------ hostile */

/* Every path tool refuses what leads outside or into .git. */
static void
test_hostile_paths(void **state)
{
	static const struct {
		const char *path;
		const char *why;
	} bad[] = {
		{ "../outside/secret.txt", "path contains \"..\"" },
		{ "a/../../outside/secret.txt", "path contains \"..\"" },
		{ "/etc/passwd", "absolute path" },
		{ ".git/config", "path leads into .git" },
		{ "src/.Git/HEAD", "path leads into .git" },
		{ "link", "path is a symlink" },
		{ "ldir/secret.txt", "a parent directory is a symlink or not a "
		    "directory" },
		{ "etc/passwd", "a parent directory is a symlink or not a "
		    "directory" },
		{ "", "empty path" },
	};
	static const struct {
		const char *name, *args;
	} tools_[] = {
		{ "read_file", "{\"path\": \"%s\"}" },
		{ "write_file", "{\"path\": \"%s\", \"content\": \"pwned\"}" },
		{ "edit_file", "{\"path\": \"%s\", \"old\": \"secret\", "
		    "\"new\": \"pwned\"}" },
		{ "delete_file", "{\"path\": \"%s\"}" },
	};
	struct fx *f = *state;
	char args[512], want[512];

	put(f, ".git/config", "[core]\n");
	plant(f, "link", "../outside/secret.txt");
	plant(f, "ldir", "../outside");
	plant(f, "etc", "/etc");
	for (size_t t = 0; t < TU_NITEMS(tools_); t++) {
		for (size_t i = 0; i < TU_NITEMS(bad); i++) {
			snprintf(args, sizeof(args), tools_[t].args,
			    bad[i].path);
			snprintf(want, sizeof(want), "%s: %s: %s",
			    tools_[t].name, bad[i].path, bad[i].why);
			/* delete_file removes a symlink itself: below. */
			if (strcmp(tools_[t].name, "delete_file") == 0 &&
			    strcmp(bad[i].path, "link") == 0)
				continue;
			expect_err(f, tools_[t].name, args, want);
		}
	}
	expect_err(f, "write_file", "{\"path\": \"a\\\\b\", \"content\": "
	    "\"x\"}", "write_file: a\\b: backslash in path");
	expect_secret_intact(f);
	expect_content(f, ".git/config", "[core]\n");
	assert_int_equal(json_object_size(f->ctx.changed), 0);
	assert_int_equal(json_object_size(f->ctx.shown), 0);

	/* The symlink itself goes; its target stays. */
	expect_ok(f, "delete_file", "{\"path\": \"link\"}", "deleted link\n");
	expect_secret_intact(f);
	/* search and list_files never follow one either. */
	expect_ok(f, "search", "{\"pattern\": \"secret|root\"}",
	    "(no match)\n");
	expect_ok(f, "list_files", "{}", "(no files)\n");
	expect_err(f, "list_files", "{\"path\": \"etc\"}",
	    "list_files: etc: path is a symlink");
	expect_err(f, "search", "{\"pattern\": \"s\", \"path\": \"ldir\"}",
	    "search: ldir: path is a symlink");
	expect_err(f, "search", "{\"pattern\": \"s\", \"path\": "
	    "\"ldir/secret.txt\"}", "search: ldir/secret.txt: a parent "
	    "directory is a symlink or not a directory");
}

/* A FIFO (a check may make one) is refused by every tool, never waited
 * on. */
static void
test_fifo(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], *map;

	TU_JOIN(path, f->dom, "fifo");
	assert_int_equal(mkfifo(path, 0644), 0);
	expect_err(f, "read_file", "{\"path\": \"fifo\"}",
	    "read_file: fifo: not a regular file");
	expect_err(f, "write_file", "{\"path\": \"fifo\", \"content\": "
	    "\"x\"}", "write_file: fifo: not a regular file");
	expect_err(f, "edit_file", "{\"path\": \"fifo\", \"old\": \"a\", "
	    "\"new\": \"b\"}", "edit_file: fifo: not a regular file");
	expect_err(f, "search", "{\"pattern\": \"x\", \"path\": \"fifo\"}",
	    "search: fifo: not a regular file");
	expect_ok(f, "list_files", "{}", "(no files)\n");
	map = tools_file_map(f->dirfd, 1000);
	assert_string_equal(map, "(no files yet)\n");
	free(map);
}

/* ------------------------------------------------------------ search */

static void
test_search(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], line[400], *out;
	bool is_error;
	FILE *fp;

	put(f, "app.py", "import os\n\ndef load(x):\n    return x\n"
	    "def  load_all():\n    pass\n");
	put(f, "lib/util.py", "def load():\n    pass\n");
	put(f, "README.md", "# app\nload things\n");
	TU_JOIN(path, f->dom, "bin.dat");
	fp = fopen(path, "w");
	fwrite("def load\0", 1, 9, fp);
	fclose(fp);
	expect_ok(f, "search", "{\"pattern\": \"^def +load\"}",
	    "app.py:3: def load(x):\napp.py:5: def  load_all():\n"
	    "lib/util.py:1: def load():\n");
	expect_ok(f, "search", "{\"pattern\": \"load\", \"path\": \"lib\"}",
	    "lib/util.py:1: def load():\n");
	expect_ok(f, "search", "{\"pattern\": \"load\", \"path\": "
	    "\"README.md\"}", "README.md:2: load things\n");
	expect_ok(f, "search", "{\"pattern\": \"nothing here\"}",
	    "(no match)\n");
	expect_err(f, "search", "{\"pattern\": \"(load\"}",
	    "search: pattern: bad regex: Unmatched ( or \\(");
	expect_err(f, "search", "{\"pattern\": \"(a*)*\\\\1\"}",
	    "search: pattern: back-references (\\1...) are not supported");
	expect_ok(f, "search", "{\"pattern\": \"\\\\\\\\1\"}", "(no match)\n");
	expect_err(f, "search", "{\"pattern\": \"\"}",
	    "search: pattern: must be 1 to 1024 bytes");
	expect_err(f, "search", "{\"path\": \"lib\"}",
	    "search: pattern: required string");
	expect_err(f, "search", "{\"pattern\": \"x\", \"path\": \"nope\"}",
	    "search: nope: no such folder");
	expect_err(f, "search", "{\"pattern\": \"x\", \"path\": \"../x\"}",
	    "search: ../x: path contains \"..\"");

	f->ctx.lim.search_max = 2;
	expect_ok(f, "search", "{\"pattern\": \"load\"}",
	    "README.md:2: load things\napp.py:3: def load(x):\n"
	    "[cut at 2 matches: narrow the pattern or the path]\n");

	/* Long lines are cut. */
	memset(line, 'y', sizeof(line) - 2);
	line[0] = 'Q';
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	put(f, "long.txt", line);
	out = tools_run(&f->ctx, "search", "{\"pattern\": \"^Q\"}", &is_error);
	assert_false(is_error);
	assert_int_equal(strlen(out), strlen("long.txt:1: ") + 200 +
	    strlen(" [line cut]\n"));
	assert_non_null(strstr(out, "y [line cut]\n"));
	free(out);
}

/* ------------------------------------------------------------ write */

static void
test_write(void **state)
{
	struct fx *f = *state;
	char *big;
	size_t n;

	expect_ok(f, "write_file", "{\"path\": \"src/new/mod.py\", "
	    "\"content\": \"x = 1\\ny = 2\\n\"}",
	    "wrote src/new/mod.py (12 bytes, 2 lines)\n");
	expect_content(f, "src/new/mod.py", "x = 1\ny = 2\n");
	assert_true(marked(f->ctx.shown, "src/new/mod.py"));
	assert_true(marked(f->ctx.changed, "src/new/mod.py"));
	expect_ok(f, "write_file", "{\"path\": \"./src/new//mod.py\", "
	    "\"content\": \"\"}", "wrote src/new/mod.py (0 bytes, 0 lines)\n");
	expect_content(f, "src/new/mod.py", "");
	expect_err(f, "write_file", "{\"path\": \"src\", \"content\": \"x\"}",
	    "write_file: src: is a folder, not a file");
	expect_err(f, "write_file", "{\"path\": \"src/new/mod.py/x\", "
	    "\"content\": \"x\"}", "write_file: src/new/mod.py/x: a parent "
	    "directory is a symlink or not a directory");

	big = malloc(1024 * 1024 + 64);
	assert_non_null(big);
	strcpy(big, "{\"path\": \"big\", \"content\": \"");
	n = strlen(big);
	memset(big + n, 'a', 1024 * 1024 + 1);
	strcpy(big + n + 1024 * 1024 + 1, "\"}");
	expect_err(f, "write_file", big, "write_file: content: over 1048576 "
	    "bytes: split the file");
	free(big);
	assert_null(get(f, "big"));
}

/* ------------------------------------------------------------ edit */

static void
test_edit(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];
	struct stat st;

	put(f, "app.py", "def f():\n    x = 1\n    return x\n\n"
	    "def g():\n    x = 1\n    return x\n");
	TU_JOIN(path, f->dom, "app.py");
	assert_int_equal(chmod(path, 0751), 0);
	expect_ok(f, "edit_file", "{\"path\": \"app.py\", \"old\": \"def g():"
	    "\\n    x = 1\", \"new\": \"def g():\\n    x = 2\\n    y = 3\"}",
	    "edited app.py: 2 lines replaced by 3\n");
	expect_content(f, "app.py", "def f():\n    x = 1\n    return x\n\n"
	    "def g():\n    x = 2\n    y = 3\n    return x\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	assert_true(marked(f->ctx.changed, "app.py"));
	assert_false(marked(f->ctx.shown, "app.py"));

	/* Now once: the edit made it unique.  new may be empty. */
	expect_ok(f, "edit_file", "{\"path\": \"app.py\", \"old\": \"    x = "
	    "1\\n\", \"new\": \"\"}", "edited app.py: 1 lines replaced by 0\n");
	expect_content(f, "app.py", "def f():\n    return x\n\n"
	    "def g():\n    x = 2\n    y = 3\n    return x\n");
}

/* The exact texts of tools_edit's refusals, through edit_file. */
static void
test_edit_errors(void **state)
{
	struct fx *f = *state;

	put(f, "app.py", "def f():\n    x = 1\n    return x\n\n"
	    "def g():\n    x = 1\n    return x\n");
	expect_err(f, "edit_file", "{\"path\": \"app.py\", \"old\": \"x = 1\","
	    " \"new\": \"x = 2\"}", "edit_file: old text found 2 times in "
	    "app.py: include more surrounding lines");
	expect_err(f, "edit_file", "{\"path\": \"app.py\", \"old\": \"x = 3\","
	    " \"new\": \"x = 2\"}", "edit_file: old text not found in app.py");
	expect_err(f, "edit_file", "{\"path\": \"app.py\", \"old\": \"def f():"
	    "\\n  x = 1\\n  return x\", \"new\": \"\"}", "edit_file: old text "
	    "not found in app.py; it differs in whitespace (indentation, "
	    "spaces or line ends)");
	expect_err(f, "edit_file", "{\"path\": \"app.py\", \"old\": \"\", "
	    "\"new\": \"x\"}", "edit_file: old must not be empty");
	expect_err(f, "edit_file", "{\"path\": \"nope.py\", \"old\": \"a\", "
	    "\"new\": \"b\"}", "edit_file: nope.py: no such file");
	/* Overlapping occurrences count. */
	put(f, "aaa.txt", "aaa");
	expect_err(f, "edit_file", "{\"path\": \"aaa.txt\", \"old\": \"aa\", "
	    "\"new\": \"b\"}", "edit_file: old text found 2 times in aaa.txt: "
	    "include more surrounding lines");
	expect_content(f, "app.py", "def f():\n    x = 1\n    return x\n\n"
	    "def g():\n    x = 1\n    return x\n");
	expect_content(f, "aaa.txt", "aaa");
	assert_int_equal(json_object_size(f->ctx.changed), 0);
}

/* tools_edit itself, as roundops applies a JSON answer's edits. */
static void
test_tools_edit(void **state)
{
	struct fx *f = *state;
	char *why = (char *)"unset";

	put(f, "crlf.txt", "a\r\nb\r\n");
	assert_int_equal(tools_edit(f->dirfd, "crlf.txt", "a\nb", "c", &why),
	    -1);
	assert_string_equal(why, "old text not found in crlf.txt; it differs "
	    "in whitespace (indentation, spaces or line ends)");
	free(why);
	assert_int_equal(tools_edit(f->dirfd, "crlf.txt", "a\r\nb", "c",
	    &why), 0);
	assert_null(why);
	expect_content(f, "crlf.txt", "c\r\n");
	plant(f, "link", "../outside/secret.txt");
	assert_int_equal(tools_edit(f->dirfd, "link", "secret", "x", &why),
	    -1);
	assert_string_equal(why, "link: path is a symlink");
	free(why);
	assert_int_equal(tools_edit(f->dirfd, "../outside/secret.txt",
	    "secret", "x", &why), -1);
	assert_string_equal(why, "../outside/secret.txt: path contains "
	    "\"..\"");
	free(why);
	expect_secret_intact(f);
}

/* ------------------------------------------------------------ delete */

static void
test_delete(void **state)
{
	struct fx *f = *state;

	put(f, "a/b.txt", "b");
	expect_ok(f, "read_file", "{\"path\": \"a/b.txt\"}", "    1| b\n");
	expect_ok(f, "delete_file", "{\"path\": \"a/b.txt\"}",
	    "deleted a/b.txt\n");
	assert_null(get(f, "a/b.txt"));
	assert_true(marked(f->ctx.changed, "a/b.txt"));
	assert_false(marked(f->ctx.shown, "a/b.txt"));
	expect_err(f, "delete_file", "{\"path\": \"a/b.txt\"}",
	    "delete_file: a/b.txt: no such file");
	expect_err(f, "delete_file", "{\"path\": \"a\"}",
	    "delete_file: a: is a folder, not a file");
}

/* ------------------------------------------------------------ peers */

static void
test_peers(void **state)
{
	struct fx *f = *state;
	json_t *peers;

	expect_ok(f, "peer_interfaces", "{}", "(no peer has published yet)");
	expect_ok(f, "peer_interfaces", "{\"domain\": \"database\"}",
	    "(no peer has published yet)");
	peers = tu_json("[{\"id\": 4, \"task\": 1, \"domain\": \"database\", "
	    "\"version\": 2, \"hash\": \"ab\", \"created\": 1, \"document\": "
	    "{\"domain\": \"database\", \"summary\": \"tables\", \"provides\": "
	    "[{\"kind\": \"table\", \"name\": \"payslips\"}], \"consumes\": "
	    "[]}}, {\"domain\": \"frontend\", \"interface\": {\"domain\": "
	    "\"frontend\", \"summary\": \"ui\", \"provides\": [], "
	    "\"consumes\": []}}, {\"domain\": \"broken\"}]");
	f->ctx.peers = peers;
	expect_ok(f, "peer_interfaces", "{\"domain\": \"frontend\"}",
	    "{\n  \"domain\": \"frontend\",\n  \"summary\": \"ui\",\n"
	    "  \"provides\": [],\n  \"consumes\": []\n}");
	expect_ok(f, "peer_interfaces", "{}", "[\n  {\n"
	    "    \"domain\": \"database\",\n    \"summary\": \"tables\",\n"
	    "    \"provides\": [\n      {\n        \"kind\": \"table\",\n"
	    "        \"name\": \"payslips\"\n      }\n    ],\n"
	    "    \"consumes\": []\n  },\n  {\n    \"domain\": \"frontend\",\n"
	    "    \"summary\": \"ui\",\n    \"provides\": [],\n"
	    "    \"consumes\": []\n  }\n]");
	expect_err(f, "peer_interfaces", "{\"domain\": \"logic\"}",
	    "peer_interfaces: domain: no peer \"logic\" has published (peers "
	    "that have: [\"database\",\"frontend\"])");
	f->ctx.peers = f->peers;
	json_decref(peers);
}

/* ------------------------------------------------------------ ask_user */

/* Questions are kept for the round's report, four at most a round. */
static void
test_ask_user(void **state)
{
	struct fx *f = *state;
	bool is_error = true;
	json_t *want = tu_json("{\"text\": \"Floats?\", \"assumption\": "
	    "\"integers\"}");
	char *out;

	out = tools_run(&f->ctx, "ask_user", "{\"question\": \"Floats?\", "
	    "\"assumption\": \"integers\"}", &is_error);
	assert_false(is_error);
	assert_non_null(strstr(out, "Finish the round now"));
	free(out);
	assert_int_equal(json_array_size(f->ctx.questions), 1);
	assert_true(json_equal(json_array_get(f->ctx.questions, 0), want));
	json_decref(want);
	expect_err(f, "ask_user", "{}", "ask_user: question: required string");
	expect_err(f, "ask_user", "{\"question\": \"q\", \"timeout\": 0}",
	    "ask_user: timeout: seconds, 1 to 31536000");
	expect_err(f, "ask_user", "{\"question\": \"\"}",
	    "ask_user: question and assumption: 1 to 4096 bytes each");
	for (int i = 0; i < 3; i++) {
		out = tools_run(&f->ctx, "ask_user", "{\"question\": \"q\", "
		    "\"timeout\": 60}", &is_error);
		assert_false(is_error);
		free(out);
	}
	expect_err(f, "ask_user", "{\"question\": \"q\"}",
	    "ask_user: at most 4 questions a round: finish now");
	assert_int_equal(json_array_size(f->ctx.questions), 4);
	assert_int_equal(jget_int(json_array_get(f->ctx.questions, 3),
	    "timeout", 0), 60);
}

/* ------------------------------------------------------------ finish */

static void
test_finish(void **state)
{
	struct answer a;
	char err[512];

	(void)state;
	assert_int_equal(tools_finish("{\"summary\": \"did it\"}", "logic", &a,
	    err, sizeof(err)), 0);
	assert_string_equal(a.summary, "did it");
	assert_int_equal(a.nfiles, 0);
	assert_null(a.interface);
	answer_free(&a);

	assert_int_equal(tools_finish("{\"summary\": \"s\", \"interface\": "
	    "{\"domain\": \"logic\", \"summary\": \"api\", \"provides\": "
	    "[{\"kind\": \"http\", \"name\": \"GET /x\"}], \"consumes\": []}, "
	    "\"checks\": [\"make test\"]}", "logic", &a, err, sizeof(err)), 0);
	assert_string_equal(jget_str(a.interface, "summary"), "api");
	assert_int_equal(a.nchecks, 1);
	assert_string_equal(a.checks[0], "make test");
	answer_free(&a);

	/* Strict modes send null for what is absent. */
	assert_int_equal(tools_finish("{\"summary\": \"s\", \"interface\": "
	    "null, \"checks\": null}", "logic", &a, err, sizeof(err)), 0);
	answer_free(&a);

	static const struct {
		const char *args, *want;
	} bad[] = {
		{ "{}", "finish: summary: missing (say what changed and why)" },
		{ "", "finish: summary: missing (say what changed and why)" },
		{ "{\"summary\": ", "finish: arguments are not JSON: "
		    "unexpected token near end of file" },
		{ "[]", "finish: arguments must be a JSON object, not an "
		    "array" },
		{ "{\"summary\": \"s\", \"files\": []}", "finish: files: not "
		    "an argument of finish: write files with write_file or "
		    "edit_file before you finish" },
		{ "{\"summary\": \"s\", \"interface\": {\"domain\": "
		    "\"database\"}}", "finish: interface.domain: \"database\", "
		    "but the document is published by \"logic\"" },
		{ "{\"summary\": \"s\", \"file\": \"a\"}", "finish: unknown "
		    "argument \"file\" (arguments: [\"summary\",\"interface\","
		    "\"checks\"])" },
		{ "{\"summary\": \"s\", \"checks\": [1]}", "finish: checks[0]: "
		    "must be a string, not a number" },
	};
	for (size_t i = 0; i < TU_NITEMS(bad); i++) {
		memset(&a, 0xa5, sizeof(a));
		assert_int_equal(tools_finish(bad[i].args, "logic", &a, err,
		    sizeof(err)), -1);
		if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
			fail_msg("finish %s:\n  got \"%s\"\nwanted \"%s\"",
			    bad[i].args, err, bad[i].want);
		assert_null(a.summary);
		assert_null(a.interface);
	}
}

/* ------------------------------------------------------------ file map */

/*
 * Public definitions first, then private ones ("_name", static C
 * functions, a .c file's own types); headings in a Markdown code block,
 * C forward declarations and __attribute__ are not definitions.
 */
static void
test_file_map(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], *map;
	FILE *fp;

	map = tools_file_map(f->dirfd, 4096);
	assert_string_equal(map, "(no files yet)\n");
	free(map);

	put(f, "app.py", "import os\n\ndef _private():\n    pass\n\n"
	    "class App:\n    def inner(self):\n        pass\n\ndef main():\n"
	    "    pass\nasync def serve():\n    pass\n");
	put(f, "src/db.c", "#include <stdio.h>\n\nstruct fwd;\nstruct conn {\n"
	    "\tint fd;\n};\n\nstatic int\nconn_open(const char *p)\n{\n"
	    "\tif (p)\n\t\treturn 1;\n\treturn 0;\n}\n\n"
	    "static void __attribute__((noreturn))\ndie(void)\n{\n}\n\n"
	    "int main(void) { return 0; }\n");
	put(f, "src/db.h", "struct conn {\n\tint fd;\n};\nstruct fwd;\n"
	    "struct conn *\n"
	    "conn_open(const char *);\n");
	put(f, "web/app.js", "import x from 'y';\nexport function render(a) "
	    "{}\nexport const API = '/api';\nclass View {}\n");
	put(f, "main.go", "package main\n\ntype Server struct{}\n\n"
	    "func (s *Server) Run() error {\n\treturn nil\n}\n\nfunc main() "
	    "{}\n");
	put(f, "lib.rs", "pub struct Cfg;\npub fn load() {}\nimpl Cfg {}\n");
	put(f, "schema.sql", "-- tables\ncreate table if not exists "
	    "payslips (id int);\n  CREATE INDEX ix_p ON payslips(id);\n");
	put(f, "README.md", "# Payroll\n\nText.\n\n## Usage\n### Deep\n"
	    "```sh\n# not a heading\n```\n");
	put(f, "notes.txt", "\n\n   first words here   \nsecond\n");
	put(f, "many.py", "def a(): pass\ndef b(): pass\ndef c(): pass\n"
	    "def d(): pass\ndef e(): pass\ndef f(): pass\ndef g(): pass\n"
	    "def h(): pass\n");
	put(f, "empty.py", "");
	put(f, ".git/HEAD", "ref\n");
	TU_JOIN(path, f->dom, "logo.png");
	fp = fopen(path, "w");
	fwrite("\x89PNG\0", 1, 5, fp);
	fclose(fp);

	map = tools_file_map(f->dirfd, 8192);
	assert_string_equal(map,
	    "README.md (62 bytes): # Payroll, ## Usage\n"
	    "app.py (132 bytes): class App, def main, def serve, def _private\n"
	    "empty.py (0 bytes): empty\n"
	    "lib.rs (45 bytes): struct Cfg, fn load, impl Cfg\n"
	    "logo.png (5 bytes): binary\n"
	    "main.go (97 bytes): type Server, func Run, func main\n"
	    "many.py (112 bytes): def a, def b, def c, def d, def e, def f, "
	    "... +2 more\n"
	    "notes.txt (32 bytes): first words here\n"
	    "schema.sql (93 bytes): table payslips, index ix_p\n"
	    "src/db.c (213 bytes): main(), struct conn, conn_open(), die()\n"
	    "src/db.h (77 bytes): struct conn, conn_open()\n"
	    "web/app.js (89 bytes): function render, const API, class View\n");
	free(map);

	/* A budget: whole lines, then the count of the rest. */
	map = tools_file_map(f->dirfd, 150);
	assert_string_equal(map,
	    "README.md (62 bytes): # Payroll, ## Usage\n"
	    "app.py (132 bytes): class App, def main, def serve, def _private\n"
	    "... and 10 more files\n");
	free(map);
}

static void
test_file_map_first_line_cut(void **state)
{
	struct fx *f = *state;
	char line[200], *map;

	memset(line, 'w', 150);
	line[150] = '\0';
	put(f, "long.txt", line);
	map = tools_file_map(f->dirfd, 4096);
	assert_int_equal(strlen(map), strlen("long.txt (150 bytes): ") + 80 +
	    strlen("...\n"));
	assert_non_null(strstr(map, "www...\n"));
	free(map);
}

/* ------------------------------------------------------------ contents */

static void
test_file_contents(void **state)
{
	struct fx *f = *state;
	json_t *left, *first, *want, *shown;
	char *s;

	s = tools_file_contents(f->dirfd, NULL, 1000, &left, NULL);
	assert_string_equal(s, "(no files yet)\n");
	assert_int_equal(json_array_size(left), 0);
	free(s);
	json_decref(left);

	put(f, "a.txt", "alpha\n");
	put(f, "b.md", "use ```code```\n");
	put(f, "c/d.py", "x = 1");
	put(f, "e.txt", "0123456789012345678901234567890123456789");
	first = tu_json("[\"c/d.py\", \"missing.py\", \"./c/d.py\", "
	    "\"../x\", \"a.txt\"]");
	s = tools_file_contents(f->dirfd, first, 4096, &left, NULL);
	assert_string_equal(s,
	    "### c/d.py\n```\nx = 1\n```\n"
	    "### a.txt\n```\nalpha\n```\n"
	    "### b.md\n````\nuse ```code```\n````\n"
	    "### e.txt\n```\n0123456789012345678901234567890123456789\n```\n");
	assert_int_equal(json_array_size(left), 0);
	free(s);
	json_decref(left);

	/* A budget: what does not fit whole is left out, never cut; what
	 * fits is marked shown. */
	shown = json_object();
	s = tools_file_contents(f->dirfd, first, 60, &left, shown);
	assert_string_equal(s,
	    "### c/d.py\n```\nx = 1\n```\n"
	    "### a.txt\n```\nalpha\n```\n");
	want = tu_json("[\"b.md\", \"e.txt\"]");
	assert_true(json_equal(left, want));
	json_decref(want);
	want = tu_json("{\"c/d.py\": true, \"a.txt\": true}");
	assert_true(json_equal(shown, want));
	json_decref(want);
	json_decref(shown);
	free(s);
	json_decref(left);
	json_decref(first);

	/* `first` may be a set (an object path -> true), as ctx->changed. */
	first = tu_json("{\"e.txt\": true}");
	s = tools_file_contents(f->dirfd, first, 62, NULL, NULL);
	assert_string_equal(s,
	    "### e.txt\n```\n0123456789012345678901234567890123456789\n```\n");
	free(s);
	json_decref(first);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_finish),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_arguments),
		T(test_call_limit),
		T(test_list),
		T(test_read),
		T(test_read_binary_and_utf8),
		T(test_read_limits),
		T(test_hostile_paths),
		T(test_fifo),
		T(test_search),
		T(test_write),
		T(test_edit),
		T(test_edit_errors),
		T(test_tools_edit),
		T(test_delete),
		T(test_peers),
		T(test_ask_user),
		T(test_file_map),
		T(test_file_map_first_line_cut),
		T(test_file_contents),
#undef T
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
