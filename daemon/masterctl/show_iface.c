/*
 * show_iface.c — interfaces for people: each entry with its contract (the
 * signature, the schema pretty-printed), what changed between two versions
 * line by line, and the consumes -> provides graph of a task, as text for
 * a terminal or as Graphviz DOT (unresolved edges dashed and red).
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/masterctl/ctl.h"

/* Lines of text, each pointing into one copy. */
struct lines {
	char *buf;
	char **v;
	size_t n;
};

static void
lines_split(struct lines *l, const char *text)
{
	char *p, *save = NULL;

	l->buf = xstrdup(text != NULL ? text : "");
	l->v = NULL;
	l->n = 0;
	for (p = strtok_r(l->buf, "\n", &save); p != NULL;
	    p = strtok_r(NULL, "\n", &save)) {
		l->v = xreallocarray(l->v, l->n + 1, sizeof(char *));
		l->v[l->n++] = p;
	}
}

static void
lines_free(struct lines *l)
{
	free(l->buf);
	free(l->v);
}

/* A schema as indented JSON, each line under indent. */
static void
print_schema(const char *indent, const json_t *schema)
{
	struct lines l;
	char *text = json_dumps(schema, JSON_INDENT(2) | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY);

	if (text == NULL)
		return;
	lines_split(&l, text);
	printf("%sschema:\n", indent);
	for (size_t i = 0; i < l.n; i++)
		printf("%s  %s\n", indent, l.v[i]);
	lines_free(&l);
	free(text);
}

/* An entry's contract (and a consumer's contract test), under it. */
static void
print_contract(const char *indent, const json_t *e)
{
	if (json_is_string(json_object_get(e, "signature")))
		printf("%ssignature: %s\n", indent, str(e, "signature"));
	if (json_object_get(e, "schema") != NULL)
		print_schema(indent, json_object_get(e, "schema"));
	if (json_is_string(json_object_get(e, "test")))
		printf("%stest: %s\n", indent, str(e, "test"));
	if (json_is_string(json_object_get(e, "doc")))
		printf("%sdoc: %s\n", indent, str(e, "doc"));
}

static void
print_entries(const char *title, const json_t *list)
{
	const json_t *e;
	size_t i;

	if (json_array_size(list) == 0)
		return;
	printf("  %s:\n", title);
	json_array_foreach(list, i, e) {
		printf("    %-9s %s", str(e, "kind"), str(e, "name"));
		if (json_is_string(json_object_get(e, "from")))
			printf("  from %s", str(e, "from"));
		if (json_is_true(json_object_get(e, "unresolved")))
			printf("  UNRESOLVED");
		putchar('\n');
		print_contract("      ", e);
	}
}

static const char *
version_kind(const json_t *declared)
{
	return json_is_true(declared) ? "declared" : "implemented";
}

static void
print_interface(const json_t *iface)
{
	const json_t *doc = json_object_get(iface, "document");
	char created[32];

	fmt_when(when(iface, "created"), created, sizeof(created));
	printf("%s v%lld, %s (hash %.12s, %s)\n", str(iface, "domain"),
	    num(iface, "version"), version_kind(json_object_get(iface,
	    "declared")), str(iface, "hash"), created);
	if (json_is_string(json_object_get(doc, "summary")))
		printf("  %s\n", str(doc, "summary"));
	print_entries("provides", json_object_get(doc, "provides"));
	print_entries("consumes", json_object_get(doc, "consumes"));
}

static void
human_interface(json_t *r)
{
	print_interface(json_object_get(r, "interface"));
}

/* ---------------------------------------------------------- diff */

/*
 * Old and new text, line by line: "-" for a line gone, "+" for a line
 * come, " " for one kept (a longest common subsequence; schemas and
 * signatures are short).
 */
static void
print_line_diff(const char *indent, const char *old, const char *now)
{
	struct lines a, b;
	size_t *L, i, j, w;

	lines_split(&a, old);
	lines_split(&b, now);
	w = b.n + 1;
	L = xcalloc((a.n + 1) * w, sizeof(size_t));
	for (i = a.n; i-- > 0;)
		for (j = b.n; j-- > 0;)
			L[i * w + j] = strcmp(a.v[i], b.v[j]) == 0 ?
			    L[(i + 1) * w + j + 1] + 1 :
			    (L[(i + 1) * w + j] > L[i * w + j + 1] ?
			    L[(i + 1) * w + j] : L[i * w + j + 1]);
	for (i = 0, j = 0; i < a.n || j < b.n;) {
		if (i < a.n && j < b.n && strcmp(a.v[i], b.v[j]) == 0) {
			printf("%s  %s\n", indent, a.v[i]);
			i++, j++;
		} else if (i < a.n && (j == b.n ||
		    L[(i + 1) * w + j] >= L[i * w + j + 1])) {
			/* what went before what came, as diff(1) */
			printf("%s- %s\n", indent, a.v[i++]);
		} else {
			printf("%s+ %s\n", indent, b.v[j++]);
		}
	}
	free(L);
	lines_free(&a);
	lines_free(&b);
}

/* A member of an entry as text: a string as it is, JSON indented. */
static char *
member_text(const json_t *e, const char *k)
{
	const json_t *v = json_object_get(e, k);

	if (v == NULL)
		return xstrdup("");
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	return json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY);
}

/* What a changed entry changed: each part, line by line. */
static void
print_changed(const json_t *c)
{
	static const char *const parts[] = { "signature", "schema", "from",
	    "test", "doc" };
	const json_t *o = json_object_get(c, "old"), *n = json_object_get(c,
	    "new");
	char *a, *b;
	bool contract = false;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		a = member_text(o, parts[i]);
		b = member_text(n, parts[i]);
		if (strcmp(a, b) != 0) {
			printf("      %s:\n", parts[i]);
			print_line_diff("        ", a, b);
			if (i < 3)
				contract = true;
		}
		free(a);
		free(b);
	}
	if (contract && !json_is_true(json_object_get(c, "contract")))
		printf("      (formatting only: the same contract)\n");
}

static void
print_diff_side(const char *side, const json_t *d)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(d, "added"), i, e) {
		printf("  + %-8s %-9s %s\n", side, str(e, "kind"),
		    str(e, "name"));
		print_contract("      ", e);
	}
	json_array_foreach(json_object_get(d, "removed"), i, e) {
		printf("  - %-8s %-9s %s\n", side, str(e, "kind"),
		    str(e, "name"));
		print_contract("      ", e);
	}
	json_array_foreach(json_object_get(d, "changed"), i, e) {
		printf("  ~ %-8s %-9s %s\n", side, str(e, "kind"),
		    str(e, "name"));
		print_changed(e);
	}
}

static void
human_diff(json_t *r)
{
	const json_t *d = json_object_get(r, "diff");

	printf("%s: v%lld (%s) -> v%lld (%s)\n", str(r, "domain"),
	    num(r, "from"), version_kind(json_object_get(r, "from_declared")),
	    num(r, "to"), version_kind(json_object_get(r, "to_declared")));
	print_diff_side("provides", json_object_get(d, "provides"));
	print_diff_side("consumes", json_object_get(d, "consumes"));
}

int
cmd_interface(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_INTERFACE);
	json_int_t v, a, b;

	json_object_set_new(req, "domain", json_string(argv[0]));
	if (with_task(req, o->task) != 0)
		return EXIT_USAGE;
	if (o->diff != NULL) {
		/* --diff A B: B arrives as the second positional argument */
		if (argc != 2 || parse_id(o->diff, "--diff", &a) != 0 ||
		    parse_id(argv[1], "--diff", &b) != 0) {
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "diff", json_pack("[I, I]", a, b));
		return call_and_print(c, req, human_diff);
	}
	if (argc == 2) {
		if (parse_id(argv[1], "the version", &v) != 0) {
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "version", json_integer(v));
	}
	return call_and_print(c, req, human_interface);
}

/* ---------------------------------------------------------- graph */

/* The version of a domain that says what it consumes: its declared one
 * when newer than the implemented one (as the unresolved set reads it). */
static const json_t *
consumer_version(const json_t *r, const char *domain)
{
	const json_t *i;
	size_t n;

	json_array_foreach(json_object_get(r, "declared"), n, i)
		if (strcmp(str(i, "domain"), domain) == 0)
			return i;
	json_array_foreach(json_object_get(r, "interfaces"), n, i)
		if (strcmp(str(i, "domain"), domain) == 0)
			return i;
	return NULL;
}

/* Every domain with an interface, implemented or only declared:
 * {"name": "v2" or "v2, v3 declared" or "v1 declared"}. */
static json_t *
graph_nodes(const json_t *r)
{
	json_t *nodes = json_object();
	const json_t *i, *had;
	char label[64];
	size_t n;

	json_array_foreach(json_object_get(r, "interfaces"), n, i) {
		snprintf(label, sizeof(label), "v%lld", num(i, "version"));
		json_object_set_new(nodes, str(i, "domain"), json_string(label));
	}
	json_array_foreach(json_object_get(r, "declared"), n, i) {
		had = json_object_get(nodes, str(i, "domain"));
		snprintf(label, sizeof(label), "%s%sv%lld declared",
		    had ? json_string_value(had) : "", had ? ", " : "",
		    num(i, "version"));
		json_object_set_new(nodes, str(i, "domain"), json_string(label));
	}
	return nodes;
}

/* Edges consumer -> provider, each with the entries consumed:
 * {"consumer\tprovider": ["kind name", ...]}. */
static json_t *
graph_edges(const json_t *r)
{
	json_t *edges = json_object(), *list, *nodes = graph_nodes(r), *v;
	const json_t *i, *e;
	const char *domain;
	size_t k;
	char key[128], label[300];

	json_object_foreach(nodes, domain, v) {
		i = consumer_version(r, domain);
		json_array_foreach(json_object_get(json_object_get(i,
		    "document"), "consumes"), k, e) {
			snprintf(key, sizeof(key), "%s\t%s", str(i, "domain"),
			    str(e, "from"));
			snprintf(label, sizeof(label), "%s %s", str(e, "kind"),
			    str(e, "name"));
			if ((list = json_object_get(edges, key)) == NULL) {
				list = json_array();
				json_object_set_new(edges, key, list);
			}
			json_array_append_new(list, json_string(label));
		}
	}
	json_decref(nodes);
	return edges;
}

static bool
edge_unresolved(const json_t *r, const char *consumer, const char *provider,
    const char *label)
{
	const json_t *u;
	char l[300];
	size_t i;

	json_array_foreach(json_object_get(r, "unresolved"), i, u) {
		snprintf(l, sizeof(l), "%s %s", str(u, "kind"), str(u, "name"));
		if (strcmp(str(u, "consumer"), consumer) == 0 &&
		    strcmp(str(u, "provider"), provider) == 0 &&
		    strcmp(l, label) == 0)
			return true;
	}
	return false;
}

/* A DOT string: quotes and backslashes escaped. */
static void
dot_quoted(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s == '\n' ? ' ' : *s);
	}
	putchar('"');
}

static bool
has_domain(const json_t *r, const char *name)
{
	return consumer_version(r, name) != NULL;
}

static void
graph_dot(const json_t *r)
{
	json_t *edges = graph_edges(r), *nodes = graph_nodes(r), *list, *x;
	const char *key;
	char consumer[64], *provider;
	size_t n;
	bool bad;

	printf("digraph \"task %lld\" {\n", num(r, "task"));
	printf("  rankdir=LR;\n  node [shape=box, style=rounded];\n");
	printf("  edge [fontsize=10];\n");
	json_object_foreach(nodes, key, x) {
		printf("  ");
		dot_quoted(key);
		printf(" [label=\"%s\\n%s\"];\n", key, json_string_value(x));
	}
	json_object_foreach(edges, key, list) {
		snprintf(consumer, sizeof(consumer), "%s", key);
		consumer[strcspn(consumer, "\t")] = '\0';
		provider = strchr(key, '\t') + 1;
		if (!has_domain(r, provider)) {
			printf("  ");
			dot_quoted(provider);
			printf(" [style=dashed, color=red, label=\"%s\\n"
			    "(no interface)\"];\n", provider);
		}
		json_array_foreach(list, n, x) {
			bad = edge_unresolved(r, consumer, provider,
			    json_string_value(x));
			printf("  ");
			dot_quoted(consumer);
			printf(" -> ");
			dot_quoted(provider);
			printf(" [label=");
			dot_quoted(json_string_value(x));
			printf("%s];\n", bad ? ", style=dashed, color=red, "
			    "fontcolor=red" : "");
		}
	}
	printf("}\n");
	json_decref(edges);
	json_decref(nodes);
}

static void
graph_text(const json_t *r)
{
	json_t *edges = graph_edges(r), *nodes = graph_nodes(r), *list, *x;
	const json_t *i;
	const char *key, *prov;
	char consumer[64], line[600];
	size_t n, cw = 8;
	int width = out_width();

	json_object_foreach(edges, key, list)
		if (strcspn(key, "\t") > cw)
			cw = strcspn(key, "\t");
	printf("task %lld: who consumes what (consumer -> provider)\n",
	    num(r, "task"));
	json_object_foreach(edges, key, list) {
		snprintf(consumer, sizeof(consumer), "%s", key);
		consumer[strcspn(consumer, "\t")] = '\0';
		prov = strchr(key, '\t') + 1;
		printf("  %-*s -> %s%s\n", (int)cw, consumer, prov,
		    has_domain(r, prov) ? "" : "  (no interface)");
		json_array_foreach(list, n, x) {
			char out[600];

			snprintf(line, sizeof(line), "  %*s    %s%s", (int)cw,
			    "", json_string_value(x), edge_unresolved(r,
			    consumer, prov, json_string_value(x)) ?
			    "  UNRESOLVED" : "");
			fit(line, width, out, sizeof(out));
			printf("%s\n", out);
		}
	}
	json_object_foreach(nodes, key, x) {
		i = consumer_version(r, key);
		if (json_array_size(json_object_get(json_object_get(i,
		    "document"), "consumes")) == 0)
			printf("  %-*s    (consumes nothing; provides %zu)\n",
			    (int)cw, key, json_array_size(json_object_get(
			    json_object_get(i, "document"), "provides")));
	}
	printf("%zu unresolved\n", json_array_size(json_object_get(r,
	    "unresolved")));
	json_decref(edges);
	json_decref(nodes);
}

static void
print_unresolved(const json_t *set)
{
	const json_t *u;
	size_t i;

	if (json_array_size(set) == 0) {
		printf("\nunresolved: none\n");
		return;
	}
	printf("\nUNRESOLVED\n");
	json_array_foreach(set, i, u)
		printf("  %-9s %s `%s`: consumer %s, provider %s\n",
		    str(u, "problem"), str(u, "kind"), str(u, "name"),
		    str(u, "consumer"), str(u, "provider"));
}

static void
human_interfaces(json_t *r)
{
	const json_t *i;
	size_t n;

	if (json_array_size(json_object_get(r, "interfaces")) == 0 &&
	    json_array_size(json_object_get(r, "declared")) == 0) {
		printf("task %lld: no interface published yet\n",
		    num(r, "task"));
		return;
	}
	printf("task %lld\n", num(r, "task"));
	json_array_foreach(json_object_get(r, "interfaces"), n, i)
		print_interface(i);
	if (json_array_size(json_object_get(r, "declared")) > 0)
		printf("\ndeclared, not yet implemented:\n");
	json_array_foreach(json_object_get(r, "declared"), n, i)
		print_interface(i);
	print_unresolved(json_object_get(r, "unresolved"));
}

int
cmd_interfaces(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	json_t *req = request(c, CTL_INTERFACES), *r;
	int status;

	if (with_task(req, argc == 1 ? argv[0] : o->task) != 0)
		return EXIT_USAGE;
	if (o->graph != NULL && strcmp(o->graph, "text") != 0 &&
	    strcmp(o->graph, "dot") != 0) {
		fprintf(stderr, "masterctl: --graph is text or dot, not "
		    "'%s'\n", o->graph);
		json_decref(req);
		return EXIT_USAGE;
	}
	if (o->graph == NULL)
		return call_and_print(c, req, human_interfaces);
	if ((r = call(c, req, &status)) == NULL)
		return status;
	if (strcmp(o->graph, "dot") == 0)
		graph_dot(r);
	else if (c->json)
		print_json(r, false);
	else
		graph_text(r);
	json_decref(r);
	return EXIT_OK;
}
