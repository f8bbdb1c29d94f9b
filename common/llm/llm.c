/*
 * llm.c — the engine (a curl multi handle driven by a libuv loop) and the
 * life of a request: attempts, the retry policy, the one on_done.
 *
 * curl tells the engine which sockets to watch (CURLMOPT_SOCKETFUNCTION:
 * one uv_poll_t per socket) and when to call it back with no socket event
 * (CURLMOPT_TIMERFUNCTION: one uv_timer_t); the loop hands readiness back
 * through curl_multi_socket_action and finished transfers come out of
 * curl_multi_info_read.  Nothing blocks and nothing sleeps: the wait
 * between attempts and the silence timeout are a uv_timer of the request.
 *
 * Callbacks into the user can re-enter (cancel a request, free a session,
 * free the engine from on_done), so a request notes when it is inside one
 * and state is re-checked when it returns.  libcurl forbids removing a
 * handle from inside its own callbacks: a cancel from on_delta makes the
 * write callback fail the transfer instead, and the end comes from there.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/llm/retry.h"
#include "common/llm/impl.h"
#include "common/log.h"

/* Equal jitter from these: the first retry after 0.5-1 s (backoff.h). */
#define BACKOFF_BASE_MS	1000
#define BACKOFF_CAP_MS	30000

struct llm_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct llm_engine *e;
	struct llm_sock *next;
};

struct llm_engine {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	uint64_t rnd;			/* jitter PRNG state */
	unsigned refs;			/* itself + handles not yet closed */
	bool dead;			/* llm_engine_free was called */
	struct llm_sock *socks;
	struct llm_request *reqs;
	struct redact *redact;		/* the caller's: llm_engine_set_redact */
};

enum req_state { RQ_ATTEMPT, RQ_WAIT, RQ_DONE };

/* How an attempt failed, as the result and the retry policy see it. */
struct failure {
	enum llm_error kind;
	int status;
	bool transport;
	char message[LLM_MAX_MESSAGE + 64];
	char code[64];
};

struct llm_request {
	struct llm_request *next, *prev;
	struct llm_engine *e;
	struct llm_session *s;		/* NULL once the session is freed */
	struct llm_callbacks cb;
	void *arg;
	struct llm_turn input;		/* the turn's input, until committed */
	char *model;			/* the configured model, for results */
	struct llm_tool_call *calls;	/* the answer's, for on_done */
	char *body;
	char *url;
	struct curl_slist *headers;
	CURL *easy;			/* the attempt in flight */
	uv_timer_t timer;		/* silence timeout, or retry wait */
	enum req_state state;
	unsigned attempt;
	uint64_t start_ms;
	struct llm_parse parse;
	struct llm_buf body_in;		/* a body that is not a stream */
	bool sse;
	bool head_seen;
	bool idle_fired;
	bool cancelled;
	int in_cb;			/* inside curl's or the user's code */
	char *retry_after;
	char *retry_after_ms;
	char *should_retry;
	char errbuf[CURL_ERROR_SIZE];
	struct failure fail;
	time_t retry_until;
	unsigned max_attempts;		/* the session's, when sent */
	struct llm_usage spent;		/* failed attempts' tokens */
	struct llm_conf price;		/* the session's prices alone: it
					 * may be gone at the end */
};

static void attempt_start(struct llm_request *);
static void on_refused(uv_timer_t *);
static void attempt_done(struct llm_request *, CURLcode);
static void finish(struct llm_request *, bool ok);

/* ------------------------------------------------------------ global */

int
llm_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
llm_global_cleanup(void)
{
	curl_global_cleanup();
}

const char *
llm_error_name(enum llm_error e)
{
	static const char *const names[] = {
		"ok", "http", "transport", "timeout", "rate_limited",
		"cancelled", "stream", "parse", "invalid"
	};

	if ((unsigned)e >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[e];
}

static uint64_t
now_ms(void)
{
	return uv_hrtime() / 1000000;
}

/* splitmix64: the jitter needs spread, not secrecy. */
static uint64_t
engine_rand(struct llm_engine *e)
{
	uint64_t z = (e->rnd += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ------------------------------------------------------------ engine */

static void
engine_unref(struct llm_engine *e)
{
	if (--e->refs == 0)
		free(e);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct llm_engine *e = h->data;

	engine_unref(e);
}

static void
on_sock_closed(uv_handle_t *h)
{
	struct llm_sock *k = (struct llm_sock *)h;
	struct llm_engine *e = k->e;

	free(k);
	engine_unref(e);
}

static void
sock_close(struct llm_engine *e, struct llm_sock *k)
{
	struct llm_sock **pp;

	for (pp = &e->socks; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	}
	uv_poll_stop(&k->poll);
	uv_close((uv_handle_t *)&k->poll, on_sock_closed);
}

static void
check_done(struct llm_engine *e)
{
	struct llm_request *r;
	CURLMsg *msg;
	int left;

	while (!e->dead && (msg = curl_multi_info_read(e->multi, &left))
	    != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&r) != CURLE_OK || r == NULL)
			continue;
		attempt_done(r, msg->data.result);
	}
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
	struct llm_sock *k = (struct llm_sock *)h;
	struct llm_engine *e = k->e;
	int flags = 0, running;

	if (status < 0)
		flags |= CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(e->multi, k->fd, flags, &running);
	check_done(e);
}

static void
on_curl_timer(uv_timer_t *t)
{
	struct llm_engine *e = t->data;
	int running;

	curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(e);
}

static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct llm_engine *e = arg;

	(void)multi;
	if (e->dead)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&e->timer);
	else
		uv_timer_start(&e->timer, on_curl_timer, (uint64_t)timeout_ms,
		    0);
	return 0;
}

static int
curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct llm_engine *e = arg;
	struct llm_sock *k = sockp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (k != NULL) {
			curl_multi_assign(e->multi, fd, NULL);
			sock_close(e, k);
		}
		return 0;
	}
	if (k == NULL) {
		k = xcalloc(1, sizeof(*k));
		if (uv_poll_init_socket(e->loop, &k->poll, fd) != 0) {
			free(k);
			return -1;
		}
		k->fd = fd;
		k->e = e;
		k->next = e->socks;
		e->socks = k;
		e->refs++;
		curl_multi_assign(e->multi, fd, k);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&k->poll, events, on_poll);
	return 0;
}

struct llm_engine *
llm_engine_new(uv_loop_t *loop)
{
	struct llm_engine *e;

	e = xcalloc(1, sizeof(*e));
	e->loop = loop;
	e->refs = 1;
	e->rnd = uv_hrtime() ^ ((uint64_t)getpid() << 32);
	if ((e->multi = curl_multi_init()) == NULL) {
		free(e);
		return NULL;
	}
	uv_timer_init(loop, &e->timer);
	e->timer.data = e;
	e->refs++;
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
	return e;
}

void
llm_engine_set_redact(struct llm_engine *e, struct redact *r)
{
	e->redact = r;
}

struct redact *
llm_engine_redact(const struct llm_engine *e)
{
	return e != NULL ? e->redact : NULL;
}

void
llm_engine_free(struct llm_engine *e)
{
	struct llm_request *r, *next;

	if (e == NULL || e->dead)
		return;
	/* A finished request stays in memory until its timer closes. */
	for (r = e->reqs; r != NULL; r = next) {
		next = r->next;
		llm_request_cancel(r);
	}
	e->dead = true;
	curl_multi_cleanup(e->multi);
	e->multi = NULL;
	while (e->socks != NULL)
		sock_close(e, e->socks);
	uv_timer_stop(&e->timer);
	uv_close((uv_handle_t *)&e->timer, on_handle_closed);
	engine_unref(e);
}

/* ------------------------------------------------------------ request */

static void
header_set(char **field, const char *v, size_t n)
{
	free(*field);
	*field = v != NULL ? xstrndup(v, n) : NULL;
}

/* The silence timeout restarts with every byte from the server. */
static void on_idle(uv_timer_t *);

static void
idle_restart(struct llm_request *r)
{
	if (r->s == NULL)
		return;
	/* Timers count from the loop's cached time, stale after work. */
	uv_update_time(r->e->loop);
	uv_timer_start(&r->timer, on_idle, (uint64_t)r->s->conf.timeout, 0);
}

static size_t
header_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct llm_request *r = arg;
	size_t len = size * n, nlen, vlen;
	const char *colon, *v;

	idle_restart(r);
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue): forget the last. */
		header_set(&r->retry_after, NULL, 0);
		header_set(&r->retry_after_ms, NULL, 0);
		header_set(&r->should_retry, NULL, 0);
		return len;
	}
	if ((colon = memchr(buf, ':', len)) == NULL)
		return len;
	nlen = (size_t)(colon - buf);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && isspace((unsigned char)*v))
		v++, vlen--;
	while (vlen > 0 && isspace((unsigned char)v[vlen - 1]))
		vlen--;
	if (nlen == 11 && strncasecmp(buf, "retry-after", nlen) == 0)
		header_set(&r->retry_after, v, vlen);
	else if (nlen == 14 && strncasecmp(buf, "retry-after-ms", nlen) == 0)
		header_set(&r->retry_after_ms, v, vlen);
	else if (nlen == 14 && strncasecmp(buf, "x-should-retry", nlen) == 0)
		header_set(&r->should_retry, v, vlen);
	return len;
}

static void
request_delta(const char *s, size_t n, void *arg)
{
	struct llm_request *r = arg;

	if (r->cb.on_delta == NULL || r->cancelled)
		return;
	r->in_cb++;
	r->cb.on_delta(s, n, r->arg);
	r->in_cb--;
}

/* On the first body byte: is this a stream, or a body to read whole? */
static void
body_start(struct llm_request *r)
{
	long status = 0;
	char *ctype = NULL;

	r->head_seen = true;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ctype);
	r->sse = status >= 200 && status < 300 && ctype != NULL &&
	    strncasecmp(ctype, "text/event-stream", 17) == 0;
}

static size_t
write_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct llm_request *r = arg;
	size_t len = size * n;

	idle_restart(r);
	if (!r->head_seen)
		body_start(r);
	if (r->cancelled)
		return 0;
	if (!r->sse) {
		if (llm_buf_add(&r->body_in, buf, len) == 0)
			return len;
		/* Not a broken connection: an answer we will not hold. */
		r->parse.bad = r->parse.too_big = true;
		llm_parse_set(&r->parse.err_message, "answer body "
		    LLM_TOO_LARGE);
		return 0;
	}
	r->in_cb++;
	(void)llm_parse_feed(&r->parse, buf, len);
	r->in_cb--;
	/* An error event or a broken stream: nothing more is useful. */
	if (r->cancelled || r->parse.failed || r->parse.bad)
		return 0;
	return len;
}

static void
attempt_stop(struct llm_request *r)
{
	uv_timer_stop(&r->timer);
	if (r->easy == NULL)
		return;
	if (r->e->multi != NULL)
		curl_multi_remove_handle(r->e->multi, r->easy);
	curl_easy_cleanup(r->easy);
	r->easy = NULL;
}

static void
on_idle(uv_timer_t *t)
{
	struct llm_request *r = t->data;

	if (r->state != RQ_ATTEMPT)
		return;
	r->idle_fired = true;
	attempt_done(r, CURLE_OPERATION_TIMEDOUT);
}

static void __attribute__((format(printf, 3, 4)))
fail_set(struct failure *f, enum llm_error kind, const char *fmt, ...)
{
	va_list ap;

	f->kind = kind;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
}

/* The provider's message, with the key blotted out should it echo it. */
static void
provider_message(struct llm_request *r, char *out, size_t len)
{
	const char *m = r->parse.err_message ? r->parse.err_message : "";
	const char *key = r->s != NULL ? r->s->key : NULL;
	char *hit;

	snprintf(out, len, "%.*s", LLM_MAX_MESSAGE, m);
	while (key != NULL && *key != '\0' && (hit = strstr(out, key)) != NULL)
		memset(hit, '*', strlen(key));
}

/* How the server's answer went wrong, or false when it went right. */
static bool
classify_answer(struct llm_request *r, long status)
{
	struct failure *f = &r->fail;
	char msg[LLM_MAX_MESSAGE + 1];

	f->status = (int)status;
	/* Named, and final: the same answer would be as large again. */
	if (r->parse.too_big) {
		provider_message(r, msg, sizeof(msg));
		fail_set(f, LLM_ERR_PARSE, "%s", msg);
		return true;
	}
	if (status >= 200 && status < 300 && !r->sse)
		llm_parse_whole(&r->parse, r->body_in.p ? r->body_in.p : "",
		    r->body_in.len);
	else if (status < 200 || status >= 300)
		llm_parse_error_body(&r->parse, (int)status,
		    r->body_in.p ? r->body_in.p : "", r->body_in.len);
	provider_message(r, msg, sizeof(msg));
	if (r->parse.err_code != NULL)
		snprintf(f->code, sizeof(f->code), "%s", r->parse.err_code);
	if (status < 200 || status >= 300) {
		fail_set(f, LLM_ERR_HTTP, "HTTP %ld: %s", status, msg);
		return true;
	}
	if (r->parse.failed) {
		/* Retried as the status the error stands for, but named for
		 * what it is: the status line said 200. */
		f->status = r->parse.err_status;
		if (f->code[0] != '\0')
			fail_set(f, LLM_ERR_STREAM, "error in the stream: "
			    "%s: %s", f->code, msg);
		else
			fail_set(f, LLM_ERR_STREAM, "error in the stream: %s",
			    msg);
		return true;
	}
	if (r->parse.bad) {
		f->transport = true;
		fail_set(f, LLM_ERR_PARSE, "unreadable answer: %s", msg);
		return true;
	}
	if (r->sse && llm_parse_end(&r->parse)) {
		f->transport = true;
		fail_set(f, LLM_ERR_TRANSPORT, "the stream ended before its "
		    "last event");
		return true;
	}
	return false;
}

/* False when the attempt succeeded; else r->fail says how it failed. */
static bool
classify(struct llm_request *r, CURLcode code, long status)
{
	struct failure *f = &r->fail;

	memset(f, 0, sizeof(*f));
	if (r->idle_fired) {
		f->transport = true;
		fail_set(f, LLM_ERR_TIMEOUT, "no answer from the server for "
		    "%lld ms", (long long)r->s->conf.timeout);
		return true;
	}
	/* A write error is ours: the parser stopped on a failed stream. */
	if (code == CURLE_OK || (code == CURLE_WRITE_ERROR &&
	    (r->parse.failed || r->parse.bad)))
		return classify_answer(r, status);
	f->transport = true;
	f->status = 0;
	if (code == CURLE_OPERATION_TIMEDOUT)
		fail_set(f, LLM_ERR_TIMEOUT, "%s", r->errbuf[0] ? r->errbuf :
		    curl_easy_strerror(code));
	else
		fail_set(f, LLM_ERR_TRANSPORT, "%s", r->errbuf[0] ?
		    r->errbuf : curl_easy_strerror(code));
	return true;
}

/* 401 and 403: which key was sent, never the key. */
static void
explain_key(struct llm_request *r)
{
	struct failure *f = &r->fail;
	size_t n = strlen(f->message);
	const struct llm_session *s = r->s;

	if (f->kind != LLM_ERR_HTTP || (f->status != 401 && f->status != 403))
		return;
	if (s->key != NULL)
		snprintf(f->message + n, sizeof(f->message) - n, " (the key "
		    "from %s)", s->key_source ? s->key_source : "?");
	else
		snprintf(f->message + n, sizeof(f->message) - n, " (no key "
		    "was sent: %s is unset and no key_file or key_credential "
		    "is configured)", s->key_source ? s->key_source :
		    "the key variable");
}

static void
on_retry_timer(uv_timer_t *t)
{
	struct llm_request *r = t->data;

	if (r->state == RQ_WAIT)
		attempt_start(r);
}

/* on_retry: the failure as the result would say it, and the wait. */
static void
notify_retry(struct llm_request *r, const struct retry_decision *d)
{
	char reason[sizeof(r->fail.message) + 32];
	struct llm_retry rt = {
		.attempt = r->attempt + 1,
		.max_attempts = r->max_attempts,
		.delay_ms = d->delay_ms,
		.server_asked = d->server_asked,
		.reason = reason,
	};

	if (r->cb.on_retry == NULL)
		return;
	snprintf(reason, sizeof(reason), "%s%s", r->fail.message,
	    d->server_asked ? " (as the server asked)" : "");
	r->in_cb++;
	r->cb.on_retry(&rt, r->arg);
	r->in_cb--;
}

static void
retry_or_fail(struct llm_request *r)
{
	struct backoff_policy p = {
		BACKOFF_BASE_MS, BACKOFF_CAP_MS,
		r->max_attempts,
		(uint64_t)r->s->conf.retry_deadline,
		(uint64_t)r->s->conf.max_retry_wait,
	};
	struct retry_input in = {
		.http_status = r->fail.status,
		.stream_error = r->fail.kind == LLM_ERR_STREAM,
		.transport_error = r->fail.transport,
		.retry_after = r->retry_after,
		.retry_after_ms = r->retry_after_ms,
		.should_retry = r->should_retry,
		.attempt = r->attempt,
		.elapsed_ms = now_ms() - r->start_ms,
		.now = time(NULL),
	};
	struct retry_decision d;
	struct failure *f = &r->fail;
	uint64_t wait;
	size_t n;

	retry_decide(&p, &in, engine_rand(r->e), &d);
	log_warn("llm: %s %s: attempt %u/%u failed: %s (%s)",
	    r->s->api->name, r->s->conf.model, r->attempt, p.max_attempts,
	    f->message, d.reason);
	switch (d.verdict) {
	case RETRY_AFTER:
		r->state = RQ_WAIT;
		notify_retry(r, &d);
		if (r->cancelled) {
			fail_set(f, LLM_ERR_CANCELLED, "cancelled");
			finish(r, false);
			return;
		}
		uv_update_time(r->e->loop);
		uv_timer_start(&r->timer, on_retry_timer, d.delay_ms, 0);
		return;
	case RETRY_DEFER:
		f->kind = LLM_ERR_RATE_LIMITED;
		r->retry_until = d.until;
		n = strlen(f->message);
		snprintf(f->message + n, sizeof(f->message) - n, " (rate "
		    "limited until %lld: %s)", (long long)d.until, d.reason);
		break;
	case RETRY_GIVE_UP:
		/* Out of attempts on a 429: the master pauses the domain. */
		if (f->status == 429) {
			f->kind = LLM_ERR_RATE_LIMITED;
			if (retry_after_parse(r->retry_after,
			    r->retry_after_ms, in.now, &wait) != 0)
				wait = (uint64_t)r->s->conf.max_retry_wait;
			r->retry_until = in.now + (time_t)((wait + 999) / 1000);
		}
		n = strlen(f->message);
		snprintf(f->message + n, sizeof(f->message) - n, " (%s)",
		    d.reason);
		break;
	case RETRY_NO:
		explain_key(r);
		break;
	}
	finish(r, false);
}

static void
attempt_done(struct llm_request *r, CURLcode code)
{
	long status = 0;
	bool failed;

	if (r->easy != NULL)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	attempt_stop(r);
	failed = r->cancelled || r->s == NULL || classify(r, code, status);
	/* classify may have called on_delta, which may have cancelled. */
	if (r->cancelled || r->s == NULL) {
		memset(&r->fail, 0, sizeof(r->fail));
		fail_set(&r->fail, LLM_ERR_CANCELLED, "cancelled");
		finish(r, false);
		return;
	}
	if (!failed) {
		finish(r, true);
		return;
	}
	retry_or_fail(r);
}

static int
easy_setup(struct llm_request *r)
{
	CURL *c = r->easy;
	const struct llm_conf *conf = &r->s->conf;
	int rc = 0;

	rc |= curl_easy_setopt(c, CURLOPT_URL, r->url);
	rc |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
	rc |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(r->body));
	rc |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
	rc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	rc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	rc |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	rc |= curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	rc |= curl_easy_setopt(c, CURLOPT_PRIVATE, r);
	rc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
	rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)conf->connect_timeout);
	rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	rc |= curl_easy_setopt(c, CURLOPT_USERAGENT, "masterd");
	/* The key must not follow a redirect to another host. */
	rc |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	return rc == 0 ? 0 : -1;
}

/*
 * The tokens the provider reported for an attempt that failed, was cut
 * or cancelled are spent all the same: they go to the request's sum, and
 * the attempt's own count is cleared.  Never a successful call.
 */
static void
attempt_spent(struct llm_request *r)
{
	struct llm_usage u = r->parse.usage;

	u.calls = 0;
	u.cost = 0;
	u.priced = false;
	llm_usage_add(&r->spent, &u);
	memset(&r->parse.usage, 0, sizeof(r->parse.usage));
}

static void
attempt_start(struct llm_request *r)
{
	r->attempt++;
	r->state = RQ_ATTEMPT;
	r->sse = r->head_seen = r->idle_fired = false;
	r->errbuf[0] = '\0';
	llm_buf_reset(&r->body_in);
	attempt_spent(r);
	llm_parse_free(&r->parse);
	llm_parse_init(&r->parse, r->s->api, request_delta, r);
	log_debug("llm: %s %s: attempt %u: POST %s", r->s->api->name,
	    r->s->conf.model, r->attempt, r->url);
	if ((r->easy = curl_easy_init()) == NULL || easy_setup(r) != 0 ||
	    curl_multi_add_handle(r->e->multi, r->easy) != CURLM_OK) {
		if (r->easy != NULL)
			curl_easy_cleanup(r->easy);
		r->easy = NULL;
		memset(&r->fail, 0, sizeof(r->fail));
		fail_set(&r->fail, LLM_ERR_TRANSPORT, "curl refused the "
		    "request");
		/* From the loop: on_done never runs inside send. */
		r->state = RQ_WAIT;
		uv_timer_start(&r->timer, on_refused, 0, 0);
		return;
	}
	idle_restart(r);
}

static void
on_refused(uv_timer_t *t)
{
	struct llm_request *r = t->data;

	finish(r, false);
}

static void
on_request_closed(uv_handle_t *h)
{
	struct llm_request *r = h->data;
	struct llm_engine *e = r->e;

	free(r);
	engine_unref(e);
}

static void
request_unlink(struct llm_request *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else if (r->e->reqs == r)
		r->e->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

static void
result_fill(struct llm_request *r, bool ok, const struct llm_usage *total,
    struct llm_result *res)
{
	struct llm_parse *p = &r->parse;

	memset(res, 0, sizeof(*res));
	res->ok = ok;
	res->attempts = r->attempt;
	res->http_status = r->fail.status;
	res->text = ok && p->text.p != NULL ? p->text.p : "";
	res->text_len = ok ? p->text.len : 0;
	if (ok) {
		r->calls = llm_parse_calls(p);
		res->calls = r->calls;
		res->ncalls = r->calls != NULL ? p->ncalls : 0;
	}
	res->model = p->model != NULL ? p->model : r->model;
	res->truncated = ok && p->truncated;
	res->finish = ok && p->finish != NULL ? p->finish : "";
	res->code = ok ? "" : r->fail.code;
	res->message = ok ? "" : r->fail.message;
	res->error = ok ? LLM_OK : r->fail.kind;
	res->retry_until = r->retry_until;
	res->usage = *total;
	if (ok)
		res->http_status = 200;
}

/*
 * The end of a request: commit a good turn to the session, call on_done
 * once, free.  The session is detached first: on_done may free it, or
 * send its next turn.
 */
static void
finish(struct llm_request *r, bool ok)
{
	struct llm_session *s = r->s;
	struct llm_result res;
	struct llm_usage answer, total;
	char failed[128] = "";

	attempt_stop(r);
	r->state = RQ_DONE;
	request_unlink(r);
	if (s != NULL) {
		s->busy = NULL;
		r->s = NULL;
	}
	/* Every attempt's tokens, the void ones too: all were paid for. */
	if (!ok)
		attempt_spent(r);
	answer = r->parse.usage;
	total = r->spent;
	llm_usage_add(&total, &answer);
	total.calls = ok ? answer.calls : 0;
	llm_usage_price(&total, &r->price);
	if (r->spent.input != 0 || r->spent.output != 0)
		snprintf(failed, sizeof(failed), "; %lld+%lld tokens of failed "
		    "attempts", (long long)r->spent.input,
		    (long long)r->spent.output);
	if (ok) {
		/* The turn and the session's totals count what it cost. */
		r->parse.usage = total;
		if (llm_session_commit(s, &r->input, &r->parse) != 0)
			log_err("llm: %s: the turn could not be recorded",
			    s->api->name);
		log_info("llm: %s %s: answer of %zu bytes and %zu call(s) "
		    "after %u attempt(s), %lld+%lld tokens (%lld cached)%s",
		    s->api->name, s->conf.model, r->parse.text.len,
		    r->parse.ncalls, r->attempt, (long long)answer.input,
		    (long long)answer.output, (long long)answer.cached,
		    failed);
	} else {
		if (s != NULL)
			llm_usage_add(&s->usage, &total);
		if (failed[0] != '\0')
			log_info("llm: %s: failed after %u attempt(s)%s",
			    r->model, r->attempt, failed);
	}
	result_fill(r, ok, &total, &res);
	if (r->cb.on_done != NULL) {
		r->in_cb++;
		r->cb.on_done(&res, r->arg);
		r->in_cb--;
	}
	llm_parse_free(&r->parse);
	llm_buf_free(&r->body_in);
	llm_headers_free(r->headers);
	r->headers = NULL;
	free(r->retry_after);
	free(r->retry_after_ms);
	free(r->should_retry);
	free(r->url);
	free(r->body);
	free(r->calls);
	free(r->model);
	llm_turn_free(&r->input);
	uv_close((uv_handle_t *)&r->timer, on_request_closed);
}

void
llm_request_cancel(struct llm_request *r)
{
	if (r == NULL || r->state == RQ_DONE)
		return;
	r->cancelled = true;
	/* Inside curl or a callback: the code it returns to ends it. */
	if (r->in_cb > 0)
		return;
	memset(&r->fail, 0, sizeof(r->fail));
	fail_set(&r->fail, LLM_ERR_CANCELLED, "cancelled");
	finish(r, false);
}

static int
request_headers(struct llm_request *r)
{
	const struct llm_session *s = r->s;
	struct curl_slist *h;

	if (s->api->headers(s, &r->headers) != 0 ||
	    llm_header_add(&r->headers, "Content-Type", "",
	    "application/json") != 0 ||
	    llm_header_add(&r->headers, "Accept", "", s->conf.stream ?
	    "text/event-stream" : "application/json") != 0)
		return -1;
	/* No "Expect: 100-continue" round trip before a large body. */
	if ((h = curl_slist_append(r->headers, "Expect:")) == NULL)
		return -1;
	r->headers = h;
	return 0;
}

void
llm_request_detach(struct llm_request *r)
{
	if (r->s != NULL)
		r->s->busy = NULL;
	r->s = NULL;
	llm_request_cancel(r);
}

/* Something to send, and results that name their calls.  Whether they
 * answer the last answer's calls is turn.c's to settle (llm_turn_pairs). */
static bool
input_valid(const struct llm_input *in)
{
	if (in->text == NULL && in->nresults == 0)
		return false;
	for (size_t i = 0; i < in->nresults; i++) {
		if (in->results[i].id == NULL || in->results[i].content == NULL)
			return false;
	}
	return true;
}

struct llm_request *
llm_session_send_input(struct llm_session *s, const struct llm_input *in,
    const struct llm_callbacks *cb, void *arg)
{
	struct llm_engine *e = s->engine;
	struct llm_request *r;
	char url[2048], err[256];

	if (e == NULL || e->dead || s->busy != NULL || in == NULL ||
	    !input_valid(in))
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->e = e;
	r->s = s;
	r->cb = *cb;
	r->arg = arg;
	r->start_ms = now_ms();
	uv_timer_init(e->loop, &r->timer);
	r->timer.data = r;
	e->refs++;
	r->next = e->reqs;
	if (e->reqs != NULL)
		e->reqs->prev = r;
	e->reqs = r;
	s->busy = r;
	llm_parse_init(&r->parse, s->api, request_delta, r);
	llm_turn_input(&r->input, in);
	r->model = xstrdup(s->conf.model);
	r->max_attempts = s->max_attempts != 0 ? s->max_attempts :
	    (unsigned)s->conf.max_attempts;
	r->price.price_input = s->conf.price_input;
	r->price.price_output = s->conf.price_output;
	r->price.price_cached = s->conf.price_cached;
	r->url = xstrdup(llm_session_url(s, url, sizeof(url)));
	r->body = llm_session_body_turn(s, &r->input, err, sizeof(err));
	if (r->body == NULL || request_headers(r) != 0) {
		/* Reported from the loop: on_done never runs inside send. */
		fail_set(&r->fail, LLM_ERR_INVALID, "%s", r->body == NULL ?
		    err : "out of memory");
		r->state = RQ_WAIT;
		uv_timer_start(&r->timer, on_refused, 0, 0);
		return r;
	}
	attempt_start(r);
	return r;
}

struct llm_request *
llm_session_send(struct llm_session *s, const char *user,
    const struct llm_callbacks *cb, void *arg)
{
	struct llm_input in = { .text = user };

	if (user == NULL)
		return NULL;
	return llm_session_send_input(s, &in, cb, arg);
}

/* "tool" in a message, whatever its case. */
static bool
mentions_tool(const char *m)
{
	for (; m != NULL && *m != '\0'; m++) {
		if (strncasecmp(m, "tool", 4) == 0)
			return true;
	}
	return false;
}

bool
llm_result_tools_refused(const struct llm_result *res)
{
	/* 400 from the APIs; 404, 422, 500 from local servers' templates. */
	static const int statuses[] = { 400, 404, 422, 500 };

	if (res->ok || res->error != LLM_ERR_HTTP)
		return false;
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		if (res->http_status == statuses[i])
			return mentions_tool(res->message);
	}
	return false;
}

bool
llm_result_outage(const struct llm_result *res)
{
	if (res->ok)
		return false;
	switch (res->error) {
	case LLM_ERR_TRANSPORT:
	case LLM_ERR_TIMEOUT:
	case LLM_ERR_RATE_LIMITED:
		return true;
	case LLM_ERR_HTTP:
	case LLM_ERR_STREAM:
		/* A stream's error event carries the status it stands for. */
		return http_status_retryable(res->http_status);
	default:
		return false;
	}
}
