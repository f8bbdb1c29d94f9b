/*
 * test_backoff.c — retry and restart timing (common/backoff.c).
 *
 * Geometric restart delays and their cap; the bounds of jittered delays
 * (equal jitter: [d/2, d], the documented table from 1 s to 30 s) for
 * many random values; which HTTP statuses are retryable; the parsing
 * of retry-after-ms, Retry-After seconds, fractions and HTTP dates; and
 * every verdict of retry_decide: no retry, retry after the server's delay
 * or a jittered one, x-should-retry both ways, give up on attempts or the
 * deadline, defer a long server-asked wait, transport errors, an error
 * event in a stream named as such.
 */
#include "testutil.h"

#include <time.h>

#include "common/llm/retry.h"

/* 2023-11-14 22:13:20 UTC, a Tuesday. */
#define NOW ((time_t)1700000000)

/* An IMF-fixdate (RFC 9110) for t. */
static void
http_date(time_t t, char *buf, size_t len)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	assert_non_null(gmtime_r(&t, &tm));
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static struct retry_input
input(int status, unsigned attempt)
{
	struct retry_input in = { 0 };

	in.http_status = status;
	in.attempt = attempt;
	in.now = NOW;
	return in;
}

/* retry_decide() into d, whose verdict must be want. */
static void
decide(const struct backoff_policy *p, const struct retry_input *in,
    uint64_t rnd, enum retry_verdict want, struct retry_decision *d)
{
	retry_decide(p, in, rnd, d);
	assert_int_equal(d->verdict, want);
}

/* ------------------------------------------------------------ delays */

static void
test_geometric(void **state)
{
	static const uint64_t want[] = {
		1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000,
	};

	for (unsigned n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		assert_int_equal(backoff_geometric(1000, 60000, n), want[n]);
	/* No overflow however many restarts. */
	assert_int_equal(backoff_geometric(1000, 60000, 64), 60000);
	assert_int_equal(backoff_geometric(1000, 60000, 100000), 60000);
	assert_int_equal(backoff_geometric(1000, UINT64_MAX, 200),
	    UINT64_MAX);
	assert_int_equal(backoff_geometric(3, UINT64_MAX, 1), 6);
	/* A base above the cap is capped. */
	assert_int_equal(backoff_geometric(90000, 60000, 0), 60000);
	assert_int_equal(backoff_geometric(500, 30000, 0), 500);
}

static void
test_jitter_bounds(void **state)
{
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	uint64_t r = tu_seed("test_jitter_bounds");

	for (unsigned attempt = 0; attempt < 20; attempt++) {
		uint64_t ceiling = backoff_geometric(p.base_ms, p.cap_ms,
		    attempt), lo = UINT64_MAX, hi = 0, d;
		uint64_t floor = ceiling / 2;

		assert_true(ceiling <= p.cap_ms);
		/* The edges: half the ceiling and the ceiling itself. */
		assert_int_equal(backoff_jitter(&p, attempt, 0), floor);
		assert_int_equal(backoff_jitter(&p, attempt, ceiling - floor),
		    ceiling);
		assert_int_equal(backoff_jitter(&p, attempt,
		    ceiling - floor + 1), floor);
		assert_true(backoff_jitter(&p, attempt, UINT64_MAX) <=
		    ceiling);
		for (int i = 0; i < 20000; i++) {
			d = backoff_jitter(&p, attempt, tu_rand(&r));
			assert_true(d >= floor && d <= ceiling);
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		/* Equal jitter: spread over the whole upper half. */
		assert_true(lo < floor + ceiling / 40 + 1);
		assert_true(hi > ceiling - ceiling / 40 - 1);
	}
}

/*
 * What operations.md says: base 1 s, cap 30 s, the n-th retry (from 0)
 * waits uniformly in [d/2, d], d = min(30 s, 1 s * 2^n).  The first
 * retry never comes within half a second.
 */
static void
test_jitter_documented(void **state)
{
	static const uint64_t ceiling[] = { 1000, 2000, 4000, 8000, 16000,
	    30000, 30000, 30000 };
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	uint64_t r = tu_seed("test_jitter_documented"), d;

	assert_int_equal(p.base_ms, 1000);
	assert_int_equal(p.cap_ms, 30000);
	for (unsigned n = 0; n < sizeof(ceiling) / sizeof(ceiling[0]); n++) {
		assert_int_equal(backoff_jitter(&p, n, 0), ceiling[n] / 2);
		assert_int_equal(backoff_jitter(&p, n, ceiling[n] / 2),
		    ceiling[n]);
		for (int i = 0; i < 1000; i++) {
			d = backoff_jitter(&p, n, tu_rand(&r));
			assert_true(d >= ceiling[n] / 2 && d <= ceiling[n]);
		}
	}
	/* A base of 0 never waits; a cap of 1 waits 0 or 1 ms. */
	p.base_ms = 0;
	assert_int_equal(backoff_jitter(&p, 3, 12345), 0);
	p.base_ms = 1;
	p.cap_ms = 1;
	assert_true(backoff_jitter(&p, 5, 7) <= 1);
}

static void
test_status_retryable(void **state)
{
	static const int yes[] = { 408, 409, 429, 500, 502, 503, 504, 529,
	    599 };
	static const int no[] = { 0, 100, 200, 204, 301, 304, 400, 401, 403,
	    404, 405, 410, 413, 422, 600, -1 };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!http_status_retryable(yes[i]))
			fail_msg("%d should be retryable", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (http_status_retryable(no[i]))
			fail_msg("%d should not be retryable", no[i]);
	}
}

/* ------------------------------------------------------------ Retry-After */

static uint64_t
parsed(const char *ra, const char *ra_ms)
{
	uint64_t ms = 12345678;

	if (retry_after_parse(ra, ra_ms, NOW, &ms) != 0)
		fail_msg("retry-after \"%s\" / ms \"%s\" refused",
		    ra ? ra : "(null)", ra_ms ? ra_ms : "(null)");
	return ms;
}

static void
expect_unparsed(const char *ra, const char *ra_ms)
{
	uint64_t ms = 12345678;

	if (retry_after_parse(ra, ra_ms, NOW, &ms) != -1)
		fail_msg("retry-after \"%s\" / ms \"%s\" accepted as %llu",
		    ra ? ra : "(null)", ra_ms ? ra_ms : "(null)",
		    (unsigned long long)ms);
	assert_int_equal(ms, 12345678);
}

static void
test_retry_after_ms(void **state)
{
	assert_int_equal(parsed(NULL, "250"), 250);
	assert_int_equal(parsed(NULL, "0"), 0);
	assert_int_equal(parsed(NULL, "1500.9"), 1500);
	assert_int_equal(parsed(NULL, " 42 "), 42);
	/* retry-after-ms wins over Retry-After. */
	assert_int_equal(parsed("10", "250"), 250);
	/* An unreadable retry-after-ms falls back to Retry-After. */
	assert_int_equal(parsed("2", "soon"), 2000);
	assert_int_equal(parsed("2", "-5"), 2000);
	expect_unparsed(NULL, "soon");
	expect_unparsed(NULL, "");
	expect_unparsed(NULL, "-1");
	expect_unparsed(NULL, "12ms");
}

static void
test_retry_after_seconds(void **state)
{
	assert_int_equal(parsed("3", NULL), 3000);
	assert_int_equal(parsed("0", NULL), 0);
	assert_int_equal(parsed(" 7 ", NULL), 7000);
	assert_int_equal(parsed("120", NULL), 120000);
	/* Fractions are not in the RFC, but servers send them. */
	assert_int_equal(parsed("1.5", NULL), 1500);
	assert_int_equal(parsed("0.25", NULL), 250);
}

static void
test_retry_after_date(void **state)
{
	char date[64];

	http_date(NOW + 90, date, sizeof(date));
	assert_string_equal(date, "Tue, 14 Nov 2023 22:14:50 GMT");
	assert_int_equal(parsed(date, NULL), 90000);
	http_date(NOW + 3600, date, sizeof(date));
	assert_int_equal(parsed(date, NULL), 3600000);
	/* Now or in the past: retry at once. */
	http_date(NOW, date, sizeof(date));
	assert_int_equal(parsed(date, NULL), 0);
	http_date(NOW - 3600, date, sizeof(date));
	assert_int_equal(parsed(date, NULL), 0);
	assert_int_equal(parsed("Thu, 01 Jan 1970 00:00:01 GMT", NULL), 0);
	/* The obsolete RFC 850 form is still understood. */
	assert_int_equal(parsed("Tuesday, 14-Nov-23 22:15:20 GMT", NULL),
	    120000);
}

static void
test_retry_after_garbage(void **state)
{
	expect_unparsed(NULL, NULL);
	expect_unparsed("", NULL);
	expect_unparsed("soon", NULL);
	expect_unparsed("garbage", NULL);
	expect_unparsed("-5", NULL);
	expect_unparsed("1e3x", NULL);
	expect_unparsed("5 seconds", NULL);
	expect_unparsed("Tue, 99 Foo 2023 99:99:99 GMT", NULL);
}

/* ------------------------------------------------------------ decide */

static void
test_decide_not_retryable(void **state)
{
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	struct retry_input in = input(400, 1);
	struct retry_decision d;

	decide(&p, &in, 1, RETRY_NO, &d);
	assert_non_null(strstr(d.reason, "HTTP 400"));
	assert_non_null(strstr(d.reason, "not retryable"));

	/* Even when the server gives a Retry-After. */
	in = input(401, 1);
	in.retry_after = "1";
	decide(&p, &in, 1, RETRY_NO, &d);
	in = input(404, 1);
	decide(&p, &in, 1, RETRY_NO, &d);
}

static void
test_decide_server_delay(void **state)
{
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	struct retry_input in = input(429, 1);
	struct retry_decision d;
	char date[64];

	in.retry_after = "2";
	decide(&p, &in, 987654321, RETRY_AFTER, &d);
	assert_int_equal(d.delay_ms, 2000);
	assert_non_null(strstr(d.reason, "HTTP 429"));
	assert_non_null(strstr(d.reason, "as the server asked"));
	assert_true(d.server_asked);

	/* The server's delay is used even when above the jitter cap. */
	in.retry_after = "45";
	decide(&p, &in, 1, RETRY_AFTER, &d);
	assert_int_equal(d.delay_ms, 45000);

	in.retry_after = NULL;
	in.retry_after_ms = "750";
	decide(&p, &in, 1, RETRY_AFTER, &d);
	assert_int_equal(d.delay_ms, 750);

	in.retry_after_ms = NULL;
	http_date(NOW + 5, date, sizeof(date));
	in.retry_after = date;
	in.http_status = 503;
	decide(&p, &in, 1, RETRY_AFTER, &d);
	assert_int_equal(d.delay_ms, 5000);

	/* Exactly max_wait_ms is still slept through. */
	in.retry_after = "60";
	decide(&p, &in, 1, RETRY_AFTER, &d);
	assert_int_equal(d.delay_ms, p.max_wait_ms);
}

/* An error event in a 200 stream: named as such, retried as its status. */
static void
test_decide_stream_error(void **state)
{
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	struct retry_input in = input(529, 1);
	struct retry_decision d;

	in.stream_error = true;
	decide(&p, &in, 5, RETRY_AFTER, &d);
	assert_string_equal(d.reason, "error in the stream: retry 2 in "
	    "505 ms");
	assert_false(d.server_asked);
	in.http_status = 400;
	decide(&p, &in, 5, RETRY_NO, &d);
	assert_string_equal(d.reason, "error in the stream: not retryable");
	in.http_status = 429;
	in.retry_after = "2";
	decide(&p, &in, 5, RETRY_AFTER, &d);
	assert_int_equal(d.delay_ms, 2000);
	assert_true(d.server_asked);
	assert_null(strstr(d.reason, "HTTP"));
}

static void
test_decide_jittered(void **state)
{
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	struct retry_decision d;
	uint64_t r = tu_seed("test_decide_jittered");

	for (unsigned attempt = 1; attempt < p.max_attempts; attempt++) {
		for (int i = 0; i < 1000; i++) {
			struct retry_input in = input(500, attempt);
			uint64_t rnd = tu_rand(&r);

			retry_decide(&p, &in, rnd, &d);
			assert_int_equal(d.verdict, RETRY_AFTER);
			assert_int_equal(d.delay_ms,
			    backoff_jitter(&p, attempt - 1, rnd));
			assert_true(d.delay_ms <= backoff_geometric(p.base_ms,
			    p.cap_ms, attempt - 1));
			assert_null(strstr(d.reason, "server asked"));
			assert_false(d.server_asked);
		}
	}
}

static void
test_decide_should_retry(void **state)
{
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	struct retry_input in = input(400, 1);
	struct retry_decision d;

	in.should_retry = "true";
	decide(&p, &in, 123456, RETRY_AFTER, &d);
	assert_true(d.delay_ms <= p.base_ms);
	assert_non_null(strstr(d.reason, "x-should-retry: true"));

	in.should_retry = "TRUE";
	decide(&p, &in, 1, RETRY_AFTER, &d);

	in = input(503, 1);
	in.should_retry = "false";
	in.retry_after = "1";
	decide(&p, &in, 1, RETRY_NO, &d);
	assert_non_null(strstr(d.reason, "x-should-retry: false"));

	/* It also overrides a transport error. */
	in = input(0, 1);
	in.transport_error = true;
	in.should_retry = "false";
	decide(&p, &in, 1, RETRY_NO, &d);
}

static void
test_decide_give_up_attempts(void **state)
{
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	struct retry_input in = input(503, p.max_attempts - 1);
	struct retry_decision d;

	decide(&p, &in, 1, RETRY_AFTER, &d);

	in.attempt = p.max_attempts;
	decide(&p, &in, 1, RETRY_GIVE_UP, &d);
	assert_non_null(strstr(d.reason, "gave up after 6 attempts"));

	in.attempt = p.max_attempts + 5;
	in.retry_after = "1";
	decide(&p, &in, 1, RETRY_GIVE_UP, &d);

	/* A policy of one attempt never retries. */
	p.max_attempts = 1;
	in = input(429, 1);
	decide(&p, &in, 1, RETRY_GIVE_UP, &d);
}

static void
test_decide_deadline(void **state)
{
	struct retry_decision d;
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	struct retry_input in = input(429, 2);

	/* A wait that would end past the deadline is not started. */
	in.retry_after = "2";
	in.elapsed_ms = p.deadline_ms - 1999;
	decide(&p, &in, 1, RETRY_GIVE_UP, &d);
	assert_non_null(strstr(d.reason, "deadline"));

	in.elapsed_ms = p.deadline_ms - 2000;
	decide(&p, &in, 1, RETRY_AFTER, &d);
	assert_int_equal(d.delay_ms, 2000);

	in.retry_after = NULL;
	in.elapsed_ms = p.deadline_ms + 1;
	decide(&p, &in, 0, RETRY_GIVE_UP, &d);

	/* With jitter: the deadline counts the chosen delay (the second
	 * retry waits 1000-2000 ms). */
	in.elapsed_ms = p.deadline_ms - 1000;
	decide(&p, &in, 0, RETRY_AFTER, &d);
	assert_int_equal(d.delay_ms, 1000);
	decide(&p, &in, 1, RETRY_GIVE_UP, &d);
}

static void
test_decide_defer(void **state)
{
	char date[64];
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	struct retry_input in = input(429, 1);
	struct retry_decision d;

	in.retry_after = "120";
	decide(&p, &in, 1, RETRY_DEFER, &d);
	assert_int_equal(d.until, NOW + 120);
	assert_int_equal(d.delay_ms, 0);
	assert_non_null(strstr(d.reason, "wait 120 s"));

	http_date(NOW + 600, date, sizeof(date));
	in.retry_after = date;
	decide(&p, &in, 1, RETRY_DEFER, &d);
	assert_int_equal(d.until, NOW + 600);

	/* Milliseconds round up to the next second. */
	in.retry_after = NULL;
	in.retry_after_ms = "60001";
	decide(&p, &in, 1, RETRY_DEFER, &d);
	assert_int_equal(d.until, NOW + 61);

	/* A smaller max_wait defers sooner. */
	p.max_wait_ms = 1000;
	in.retry_after_ms = NULL;
	in.retry_after = "2";
	decide(&p, &in, 1, RETRY_DEFER, &d);
	assert_int_equal(d.until, NOW + 2);
}

static void
test_decide_transport_error(void **state)
{
	struct backoff_policy p = BACKOFF_POLICY_DEFAULT;
	struct retry_input in = input(0, 1);
	struct retry_decision d;

	in.transport_error = true;
	decide(&p, &in, 77, RETRY_AFTER, &d);
	assert_int_equal(d.delay_ms, backoff_jitter(&p, 0, 77));
	assert_non_null(strstr(d.reason, "connection failed"));

	/* No status at all counts as a transport error. */
	in.transport_error = false;
	decide(&p, &in, 77, RETRY_AFTER, &d);

	in.transport_error = true;
	in.attempt = p.max_attempts;
	decide(&p, &in, 77, RETRY_GIVE_UP, &d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometric),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_jitter_documented),
		cmocka_unit_test(test_status_retryable),
		cmocka_unit_test(test_retry_after_ms),
		cmocka_unit_test(test_retry_after_seconds),
		cmocka_unit_test(test_retry_after_date),
		cmocka_unit_test(test_retry_after_garbage),
		cmocka_unit_test(test_decide_not_retryable),
		cmocka_unit_test(test_decide_server_delay),
		cmocka_unit_test(test_decide_jittered),
		cmocka_unit_test(test_decide_stream_error),
		cmocka_unit_test(test_decide_should_retry),
		cmocka_unit_test(test_decide_give_up_attempts),
		cmocka_unit_test(test_decide_deadline),
		cmocka_unit_test(test_decide_defer),
		cmocka_unit_test(test_decide_transport_error),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
