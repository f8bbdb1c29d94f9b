/*
 * iface.h — interface documents: what a domain provides and consumes.
 *
 *   {"domain": "database", "version": 3, "summary": "...",
 *    "provides": [{"kind": "table", "name": "payslips",
 *                  "signature": "...", "schema": {...}, "doc": "..."}],
 *    "consumes": [{"kind": "http", "name": "GET /payslips",
 *                  "from": "logic", "signature": "..."}]}
 *
 * docs/interface.md is the definition.  An entry is identified by
 * (kind, name); its contract is its "signature" (a string, compared
 * without its formatting) and/or its "schema" (any JSON), compared
 * canonically.  A consumed entry may name its consumer's contract
 * "test" (a path in the consumer's folder).
 */
#ifndef COMMON_IFACE_H
#define COMMON_IFACE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The kinds an entry may have. */
extern const char *const iface_kinds[];

/*
 * Check a document published by `domain`: shape, field types, kinds, names
 * (non-empty, bounded), no duplicate (kind, name) in provides or in
 * consumes, consumes naming a "from" domain other than itself, size
 * limits.  0, or -1 with the first problem, naming its JSON path.
 */
int iface_validate(const json_t *doc, const char *domain, char *err,
    size_t errlen);

/* A new document: entries sorted by (kind, name), only known fields, the
 * "version" field dropped (the registry numbers versions). */
json_t *iface_canonical(const json_t *doc);

/* What changed from old to new (either may be NULL):
 * {"added": [entry], "removed": [entry],
 *  "changed": [{"kind","name","old","new","contract"}]} for provides and
 * consumes: {"provides": {...}, "consumes": {...}}.  "contract" is false
 * when only the doc, a consumer's test or a signature's formatting
 * changed (signatures are compared as docs/interface.md says). */
json_t *iface_diff(const json_t *old_doc, const json_t *new_doc);

/*
 * The unresolved set of a task.  latest: array of the latest document of
 * each domain; previous: array of the version before each (may be missing
 * for a domain).  Items:
 *   {"problem": "missing",  "consumer", "provider", "kind", "name"}
 *       consumed from provider, which does not provide it (and never did);
 *   {"problem": "removed",  ...}  provided by the previous version, gone;
 *   {"problem": "changed",  ..., "expected", "provided"}  the consumer's
 *       signature/schema differs from the provider's.
 *   {"problem": "no_domain", ...}  "from" names a domain the task lacks.
 * Sorted, so that equal sets compare equal.
 */
json_t *iface_unresolved(const json_t *latest, const json_t *previous);

/*
 * The contract tests of a task: for every consumed entry with a "test" in
 * the latest documents (the element forms iface_unresolved takes), the
 * check that runs it from the root of main, in the shape of an
 * integrate.request check:
 *   {"command": "python3 frontend/tests/test_api.py", "kind": "contract",
 *    "consumer": "frontend", "provider": "logic",
 *    "entry": "http GET /payslips"}
 * The command by the path's extension: .py python3, .sh sh, else the file
 * itself (./FOLDER/PATH, the consumer's folder); the path shell-quoted when it needs it.
 * Sorted by consumer, provider, entry, command; duplicates dropped.  An
 * entry whose path breaks the rules of docs/interface.md is skipped.
 * folders: {"domain": "folder"} for consumers that own another folder
 * than their name (an imported project), or NULL.
 */
json_t *iface_contract_tests(const json_t *latest, const json_t *folders);

#endif
