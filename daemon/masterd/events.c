/*
 * events.c — every event the master emits: stored in the registry (so a
 * later `watch` or `task` can show the history) and fanned out to the
 * control clients watching, in the control socket's JSON (ctljson.c):
 * "ts" an ISO 8601 time to the millisecond.
 */
#include <time.h>

#include "proto/frame.h"

#include "common/log.h"
#include "common/util.h"
#include "daemon/masterd/masterd.h"
#include "daemon/masterd/registry.h"


/* Room left in a frame for the event's envelope (type, ids, names). */
#define EVENT_ENVELOPE 1024

/*
 * An event must reach its watchers: data too big for a frame has its
 * longest strings cut, with a marker, before it is stored or sent.  The
 * cut is made on a copy: data may share values with the task's state.
 */
static json_t *
cut_to_fit(struct masterd *md, const char *event, json_t *data)
{
	size_t max = (size_t)md->conf->max_frame, size;
	json_t *copy;

	max = max > 2 * EVENT_ENVELOPE ? max - EVENT_ENVELOPE : max / 2;
	if ((size = frame_encoded_size(data)) <= max ||
	    (copy = json_deep_copy(data)) == NULL)
		return data;
	json_decref(data);
	log_warn("event %s: data of %zu bytes is over max_frame (%zu bytes "
	    "with the envelope): its longest strings cut", event, size,
	    (size_t)md->conf->max_frame);
	if (frame_cut_to_fit(copy, max) != 0)
		log_warn("event %s: still over max_frame after cutting", event);
	return copy;
}

json_t *
event_message(struct masterd *md, int64_t task, const char *domain,
    const char *event, double ts, int64_t seq, const json_t *data)
{
	json_t *msg = msg_new(CTL_EVENT, masterd_next_id(md));

	json_object_set_new(msg, "event", json_string(event));
	json_object_set_new(msg, "ts", json_real(ts));
	json_object_set_new(msg, "seq", json_integer(seq));
	if (task > 0)
		json_object_set_new(msg, "task", json_integer(task));
	if (domain != NULL)
		json_object_set_new(msg, "domain", json_string(domain));
	json_object_set_new(msg, "data", data != NULL ?
	    json_incref((json_t *)data) : json_object());
	/* a copy: data may share values with the task's state */
	return ctljson_export(msg);
}

void
event_emit(struct masterd *md, int64_t task, const char *domain,
    enum event ev, json_t *data)
{
	const char *event = event_defs[ev].name;
	int64_t seq = 0;
	json_t *msg;

	if (data == NULL)
		data = json_object();
	data = cut_to_fit(md, event, data);
	if (registry_event_add(md->reg, task, domain, event, data, &seq) != 0)
		log_warn("event %s not stored: %s", event,
		    registry_errmsg(md->reg));
	log_debug("event %s task=%lld domain=%s", event, (long long)task,
	    domain ? domain : "-");
	msg = event_message(md, task, domain, event, now_epoch(), seq, data);
	json_decref(data);	/* msg holds a copy */
	control_broadcast(md, msg, task);
	/* What watchers get (ISO times, the control socket's names). */
	hooks_event(md, task, ev, seq, json_object_get(msg, "data"));
	json_decref(msg);
}
