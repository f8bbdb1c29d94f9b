/*
 * table.c — tables that fit the terminal.  Each cell is one line (a
 * multi-line text shows its first line and an ellipsis), columns are as
 * wide as their widest cell, and a table wider than the terminal narrows
 * its flexible column (a text, a reason), then cuts its lines with an
 * ellipsis.  Not on a terminal and without $COLUMNS, nothing is cut.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/masterctl/ctl.h"

#define CELL_MAX 1024
#define FLEX_MIN 12

struct table {
	int ncols, flex;
	const char *align;
	char **cells;		/* rows * ncols, the headings first */
	size_t rows;
};

struct table *
table_new(int ncols, const char *const *heads, const char *align, int flex)
{
	struct table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	t->align = align;
	t->flex = flex;
	table_addv(t, heads);
	return t;
}

void
table_addv(struct table *t, const char *const *cells)
{
	char buf[CELL_MAX];

	t->cells = xrealloc(t->cells, (t->rows + 1) * (size_t)t->ncols *
	    sizeof(char *));
	for (int i = 0; i < t->ncols; i++) {
		fit(cells[i] != NULL ? cells[i] : "", 0, buf, sizeof(buf));
		t->cells[t->rows * (size_t)t->ncols + (size_t)i] = xstrdup(buf);
	}
	t->rows++;
}

void
table_add(struct table *t, ...)
{
	const char *cells[16];
	va_list ap;

	va_start(ap, t);
	for (int i = 0; i < t->ncols && i < 16; i++)
		cells[i] = va_arg(ap, const char *);
	va_end(ap);
	table_addv(t, cells);
}

static const char *
cell(const struct table *t, size_t r, int c)
{
	return t->cells[r * (size_t)t->ncols + (size_t)c];
}

/* Pad s to w code points, on the left for 'r'. */
static void
put_cell(char *line, size_t len, const char *s, int w, char align)
{
	size_t o = strlen(line);
	int pad = w - text_width(s);

	if (pad < 0)
		pad = 0;
	if (align == 'r')
		snprintf(line + o, len - o, "%*s%s", pad, "", s);
	else
		snprintf(line + o, len - o, "%s%*s", s, pad, "");
}

void
table_print(struct table *t, int width)
{
	int w[16] = { 0 }, total = 0;
	char line[8192], cut[CELL_MAX * 2], out[8192];
	size_t end;

	for (size_t r = 0; r < t->rows; r++)
		for (int c = 0; c < t->ncols && c < 16; c++)
			if (text_width(cell(t, r, c)) > w[c])
				w[c] = text_width(cell(t, r, c));
	for (int c = 0; c < t->ncols && c < 16; c++)
		total += w[c] + (c > 0 ? 2 : 0);
	if (width > 0 && total > width && t->flex >= 0) {
		int over = total - width;

		w[t->flex] = w[t->flex] - over > FLEX_MIN ? w[t->flex] - over :
		    (w[t->flex] < FLEX_MIN ? w[t->flex] : FLEX_MIN);
	}
	for (size_t r = 0; r < t->rows; r++) {
		line[0] = '\0';
		for (int c = 0; c < t->ncols && c < 16; c++) {
			if (c > 0)
				strcat(line, "  ");
			fit(cell(t, r, c), w[c], cut, sizeof(cut));
			/* the last column is not padded */
			put_cell(line, sizeof(line), cut, c + 1 == t->ncols &&
			    t->align[c] != 'r' ? 0 : w[c], t->align[c]);
		}
		end = strlen(line);
		while (end > 0 && line[end - 1] == ' ')
			line[--end] = '\0';
		fit(line, width, out, sizeof(out));
		printf("%s\n", out);
	}
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
