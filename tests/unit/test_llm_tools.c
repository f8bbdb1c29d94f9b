/*
 * test_llm_tools.c — tool calling in the provider layer, without a
 * network: the request bodies of the three APIs with tools, calls in the
 * history and their results (exact JSON, cache breakpoints,
 * prompt_cache_key, max_completion_tokens), streamed answers with one and
 * with two parallel calls fed at every split point, whole and truncated
 * answers, refused tools, the session file (version 2, and version 1
 * still loading), and the context calls: estimate, cut point, compaction,
 * elision, transcript.
 *
 * JSON is written with ' for " (none of the texts holds a '), so that
 * the expected bodies can be read.
 */
#include "testutil.h"

#include <jansson.h>

#include "common/llm/impl.h"

#define KEY_VAR	"MASTERD_TEST_TOOLS_KEY"

/* ------------------------------------------------------------ helpers */

/* s with every ' made a ". */
static char *
q(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return d;
}

static void
conf_init(struct llm_conf *c, const char *provider)
{
	memset(c, 0, sizeof(*c));
	c->provider = (char *)provider;
	c->model = "m-test";
	c->key_env = KEY_VAR;
	c->timeout = c->connect_timeout = 1000;
	c->max_tokens = 100;
	c->context_tokens = 100000;
	c->max_attempts = 3;
	c->retry_deadline = c->max_retry_wait = 1000;
	c->temperature = c->price_input = c->price_output = -1;
	c->price_cached = -1;
	c->stream = 1;
	c->store = 1;
	c->max_tokens_field = -1;
}

static struct llm_session *
new_session(const struct llm_conf *c, const char *system)
{
	struct llm_session *s;
	char err[256];

	setenv(KEY_VAR, "sk-tools-test", 1);
	s = llm_session_new(NULL, c, system, err, sizeof(err));
	if (s == NULL)
		fail_msg("llm_session_new: %s", err);
	return s;
}

static const char tools_json[] = "[{'name':'read_file','description':"
    "'Read a file','parameters':{'type':'object','properties':{'path':"
    "{'type':'string'}}}},{'name':'list_files','description':'List the "
    "files','parameters':{'type':'object','properties':{}}}]";

static void
set_tools(struct llm_session *s)
{
	char *text = q(tools_json);
	json_error_t jerr;
	json_t *tools = json_loads(text, 0, &jerr);

	assert_non_null(tools);
	llm_session_set_tools(s, tools);
	assert_true(llm_session_has_tools(s));
	json_decref(tools);
	free(text);
}

struct call_spec {
	const char *id, *name, *args;	/* args written with ' */
};

/* A completed turn: input (text and/or results), answer text, calls. */
static void
fake_turn(struct llm_session *s, const struct llm_input *in,
    const char *answer, const struct call_spec *calls, size_t ncalls,
    const char *id)
{
	struct llm_parse p;
	struct llm_turn t;

	llm_parse_init(&p, s->api, NULL, NULL);
	llm_parse_text(&p, answer, strlen(answer));
	for (size_t i = 0; i < ncalls; i++) {
		char *args = q(calls[i].args);
		struct llm_call_acc *c = llm_parse_call_start(&p, (long)i,
		    NULL, calls[i].id, calls[i].name);

		llm_parse_call_set_args(&p, c, args);
		free(args);
	}
	llm_parse_set(&p.id, id);
	p.usage.input = 10;
	p.usage.output = 5;
	p.usage.calls = 1;
	p.done = true;
	llm_turn_input(&t, in);
	assert_int_equal(llm_session_commit(s, &t, &p), 0);
	llm_turn_free(&t);
	llm_parse_free(&p);
}

static void
text_turn(struct llm_session *s, const char *user, const char *answer)
{
	struct llm_input in = { .text = user };

	fake_turn(s, &in, answer, NULL, 0, NULL);
}

static const struct call_spec two_calls[] = {
	{ "call_1", "read_file", "{'path':'a.py'}" },
	{ "call_2", "list_files", "{}" },
};

static const struct llm_tool_result two_results[] = {
	{ "call_1", "read_file", "A = 1", false },
	{ "call_2", "list_files", "no such folder", true },
};

/* The body for input `in` is want (written with '). */
static void
assert_body_in(struct llm_session *s, const struct llm_input *in,
    const char *want)
{
	struct llm_turn next;
	char err[256], *body, *w = q(want);

	llm_turn_input(&next, in);
	body = llm_session_body_turn(s, &next, err, sizeof(err));
	llm_turn_free(&next);
	if (body == NULL)
		fail_msg("no body: %s", err);
	if (strcmp(body, w) != 0)
		fail_msg("body\n got: %s\nwant: %s", body, w);
	free(body);
	free(w);
}

/* A session with tools, one answer that called two tools, and the
 * input that carries their results. */
static struct llm_session *
called_session(const char *provider, struct llm_input *next)
{
	struct llm_conf c;
	struct llm_session *s;
	struct llm_input first = { .text = "fix it" };

	conf_init(&c, provider);
	s = new_session(&c, "SYS");
	set_tools(s);
	llm_session_set_cache_key(s, "dom-a");
	fake_turn(s, &first, "Looking.", two_calls, 2, "r_1");
	next->text = NULL;
	next->results = two_results;
	next->nresults = 2;
	return s;
}

/* ------------------------------------------------------------ requests */

static void
test_chat_tools_body(void **state)
{
	struct llm_input in;
	struct llm_session *s = called_session("chat", &in);

	(void)state;
	/* Calls with their assistant message, a "tool" message per result. */
	assert_body_in(s, &in, "{'model':'m-test','messages':["
	    "{'role':'system','content':'SYS'},"
	    "{'role':'user','content':'fix it'},"
	    "{'role':'assistant','content':'Looking.','tool_calls':["
	    "{'id':'call_1','type':'function','function':{'name':'read_file',"
	    "'arguments':'{\\'path\\':\\'a.py\\'}'}},"
	    "{'id':'call_2','type':'function','function':{'name':"
	    "'list_files','arguments':'{}'}}]},"
	    "{'role':'tool','tool_call_id':'call_1','content':'A = 1'},"
	    "{'role':'tool','tool_call_id':'call_2','content':"
	    "'no such folder'}],"
	    "'tools':[{'type':'function','function':{'name':'read_file',"
	    "'description':'Read a file','parameters':{'type':'object',"
	    "'properties':{'path':{'type':'string'}}}}},{'type':'function',"
	    "'function':{'name':'list_files','description':'List the files',"
	    "'parameters':{'type':'object','properties':{}}}}],"
	    "'max_tokens':100,'stream':true,'stream_options':"
	    "{'include_usage':true},'prompt_cache_key':'dom-a'}");
	/* Results and text: the tool messages first.  A call-only answer
	 * has content null. */
	fake_turn(s, &in, "", two_calls, 1, NULL);
	in.text = "and now?";
	in.nresults = 1;
	s->conf.stream = 0;
	llm_session_set_tools(s, NULL);
	llm_session_set_cache_key(s, NULL);
	assert_body_in(s, &in, "{'model':'m-test','messages':["
	    "{'role':'system','content':'SYS'},"
	    "{'role':'user','content':'fix it'},"
	    "{'role':'assistant','content':'Looking.','tool_calls':["
	    "{'id':'call_1','type':'function','function':{'name':'read_file',"
	    "'arguments':'{\\'path\\':\\'a.py\\'}'}},"
	    "{'id':'call_2','type':'function','function':{'name':"
	    "'list_files','arguments':'{}'}}]},"
	    "{'role':'tool','tool_call_id':'call_1','content':'A = 1'},"
	    "{'role':'tool','tool_call_id':'call_2','content':"
	    "'no such folder'},"
	    "{'role':'assistant','content':null,'tool_calls':["
	    "{'id':'call_1','type':'function','function':{'name':'read_file',"
	    "'arguments':'{\\'path\\':\\'a.py\\'}'}}]},"
	    "{'role':'tool','tool_call_id':'call_1','content':'A = 1'},"
	    "{'role':'user','content':'and now?'}],"
	    "'max_tokens':100,'stream':false}");
	llm_session_free(s);
}

/* A call left without a result gets one that says so; a result for no
 * call is left out: every API would refuse either. */
static void
test_unpaired_results(void **state)
{
	static const struct llm_tool_result stray[] = {
		{ "call_9", "read_file", "?", false },
	};
	struct llm_input in;
	struct llm_session *s = called_session("chat", &in);

	(void)state;
	llm_session_set_tools(s, NULL);
	llm_session_set_cache_key(s, NULL);
	in.text = "go on";
	in.results = stray;
	in.nresults = 1;
	assert_body_in(s, &in, "{'model':'m-test','messages':["
	    "{'role':'system','content':'SYS'},"
	    "{'role':'user','content':'fix it'},"
	    "{'role':'assistant','content':'Looking.','tool_calls':["
	    "{'id':'call_1','type':'function','function':{'name':'read_file',"
	    "'arguments':'{\\'path\\':\\'a.py\\'}'}},"
	    "{'id':'call_2','type':'function','function':{'name':"
	    "'list_files','arguments':'{}'}}]},"
	    "{'role':'tool','tool_call_id':'call_1','content':"
	    "'(no result: the call was not run)'},"
	    "{'role':'tool','tool_call_id':'call_2','content':"
	    "'(no result: the call was not run)'},"
	    "{'role':'user','content':'go on'}],"
	    "'max_tokens':100,'stream':true,'stream_options':"
	    "{'include_usage':true}}");
	llm_session_free(s);
}

static void
test_max_tokens_field(void **state)
{
	static const struct {
		const char *url, *model;
		int field;
		const char *want;
	} cases[] = {
		{ "https://api.openai.com/v1", "gpt-5-mini", -1,
		  "max_completion_tokens" },
		{ "https://api.openai.com/v1", "o3", -1,
		  "max_completion_tokens" },
		{ "https://api.openai.com/v1", "o4-mini", -1,
		  "max_completion_tokens" },
		{ "https://api.openai.com/v1", "o1-preview", -1,
		  "max_completion_tokens" },
		{ "https://api.openai.com/v1", "gpt-4o", -1, "max_tokens" },
		/* A local server reads max_tokens, whatever the name. */
		{ "http://127.0.0.1:11434/v1", "gpt-5", -1, "max_tokens" },
		{ "http://127.0.0.1:8080/v1", "llama", 2,
		  "max_completion_tokens" },
		{ "https://api.openai.com/v1", "o3", 1, "max_tokens" },
		{ "https://api.openai.com/v1", "o3", 0,
		  "max_completion_tokens" },
	};
	struct llm_conf c;
	struct llm_session *s;
	char err[256], *body, want[64];

	(void)state;
	for (size_t i = 0; i < TU_NITEMS(cases); i++) {
		conf_init(&c, "chat");
		c.base_url = (char *)cases[i].url;
		c.model = (char *)cases[i].model;
		c.max_tokens_field = cases[i].field;
		s = new_session(&c, NULL);
		assert_string_equal(llm_max_tokens_field(s), cases[i].want);
		body = llm_session_body(s, "hi", err, sizeof(err));
		snprintf(want, sizeof(want), "\"%s\":100", cases[i].want);
		assert_non_null(strstr(body, want));
		free(body);
		llm_session_free(s);
	}
}

static void
test_default_max_tokens(void **state)
{
	struct llm_conf c;
	struct llm_session *s;

	(void)state;
	conf_init(&c, "anthropic");
	c.max_tokens = -1;
	c.context_tokens = 0;
	s = new_session(&c, NULL);
	assert_int_equal(s->conf.max_tokens, 8192);
	llm_session_free(s);
	/* A small window: a quarter of it. */
	conf_init(&c, "chat");
	c.max_tokens = -1;
	c.context_tokens = 8000;
	s = new_session(&c, NULL);
	assert_int_equal(s->conf.max_tokens, 2000);
	assert_int_equal(llm_session_budget(s), 6000);
	llm_session_free(s);
}

static void
test_responses_tools_body(void **state)
{
	struct llm_input in;
	struct llm_session *s = called_session("openai-responses", &in);

	(void)state;
	/* Chained: only the new input items, function_call_output each. */
	assert_body_in(s, &in, "{'model':'m-test','instructions':'SYS',"
	    "'input':[{'type':'function_call_output','call_id':'call_1',"
	    "'output':'A = 1'},{'type':'function_call_output','call_id':"
	    "'call_2','output':'no such folder'}],"
	    "'previous_response_id':'r_1',"
	    "'tools':[{'type':'function','name':'read_file','description':"
	    "'Read a file','parameters':{'type':'object','properties':"
	    "{'path':{'type':'string'}}},'strict':false},{'type':'function',"
	    "'name':'list_files','description':'List the files','parameters':"
	    "{'type':'object','properties':{}},'strict':false}],"
	    "'max_output_tokens':100,'store':true,'stream':true,"
	    "'truncation':'auto','prompt_cache_key':'dom-a'}");
	/* Unstored: the transcript as items, calls as function_call. */
	s->conf.store = 0;
	llm_session_set_tools(s, NULL);
	in.text = "and?";
	assert_body_in(s, &in, "{'model':'m-test','instructions':'SYS',"
	    "'input':[{'role':'user','content':'fix it'},"
	    "{'role':'assistant','content':'Looking.'},"
	    "{'type':'function_call','call_id':'call_1','name':'read_file',"
	    "'arguments':'{\\'path\\':\\'a.py\\'}'},"
	    "{'type':'function_call','call_id':'call_2','name':'list_files',"
	    "'arguments':'{}'},"
	    "{'type':'function_call_output','call_id':'call_1',"
	    "'output':'A = 1'},{'type':'function_call_output','call_id':"
	    "'call_2','output':'no such folder'},"
	    "{'role':'user','content':'and?'}],"
	    "'max_output_tokens':100,'store':false,'stream':true,"
	    "'truncation':'auto','prompt_cache_key':'dom-a'}");
	llm_session_free(s);
}

static void
test_anthropic_tools_body(void **state)
{
	struct llm_input in;
	struct llm_session *s = called_session("anthropic", &in);

	(void)state;
	/* tool_use blocks with parsed input; tool_result blocks; breakpoints
	 * on the system prompt, the history's last block, the last tool. */
	assert_body_in(s, &in, "{'model':'m-test','max_tokens':100,"
	    "'system':[{'type':'text','text':'SYS','cache_control':"
	    "{'type':'ephemeral'}}],'messages':["
	    "{'role':'user','content':'fix it'},"
	    "{'role':'assistant','content':[{'type':'text','text':"
	    "'Looking.'},{'type':'tool_use','id':'call_1','name':"
	    "'read_file','input':{'path':'a.py'}},{'type':'tool_use','id':"
	    "'call_2','name':'list_files','input':{},'cache_control':"
	    "{'type':'ephemeral'}}]},"
	    "{'role':'user','content':[{'type':'tool_result','tool_use_id':"
	    "'call_1','content':'A = 1','is_error':false},{'type':"
	    "'tool_result','tool_use_id':'call_2','content':"
	    "'no such folder','is_error':true}]}],"
	    "'tools':[{'name':'read_file','description':'Read a file',"
	    "'input_schema':{'type':'object','properties':{'path':{'type':"
	    "'string'}}}},{'name':'list_files','description':"
	    "'List the files','input_schema':{'type':'object','properties':"
	    "{}},'cache_control':{'type':'ephemeral'}}],'stream':true}");
	/* Results then text in one user message; arguments that are not an
	 * object (a cut answer's) go as {}. */
	{
		static const struct call_spec cut[] = {
			{ "toolu_c", "read_file", "{'path':'a." },
		};
		struct llm_input more = { .text = "next", .results =
		    two_results, .nresults = 2 };
		static const struct llm_tool_result res[] = {
			{ "toolu_c", "read_file", "bad arguments", true },
		};

		fake_turn(s, &more, "", cut, 1, "msg_2");
		in.text = "cut short";
		in.results = res;
		in.nresults = 1;
		llm_session_set_tools(s, NULL);
		assert_body_in(s, &in, "{'model':'m-test','max_tokens':100,"
		    "'system':[{'type':'text','text':'SYS','cache_control':"
		    "{'type':'ephemeral'}}],'messages':["
		    "{'role':'user','content':'fix it'},"
		    "{'role':'assistant','content':[{'type':'text','text':"
		    "'Looking.'},{'type':'tool_use','id':'call_1','name':"
		    "'read_file','input':{'path':'a.py'}},{'type':'tool_use',"
		    "'id':'call_2','name':'list_files','input':{}}]},"
		    "{'role':'user','content':[{'type':'tool_result',"
		    "'tool_use_id':'call_1','content':'A = 1','is_error':"
		    "false},{'type':'tool_result','tool_use_id':'call_2',"
		    "'content':'no such folder','is_error':true},{'type':"
		    "'text','text':'next'}]},"
		    "{'role':'assistant','content':[{'type':'tool_use','id':"
		    "'toolu_c','name':'read_file','input':{},'cache_control':"
		    "{'type':'ephemeral'}}]},"
		    "{'role':'user','content':[{'type':'tool_result',"
		    "'tool_use_id':'toolu_c','content':'bad arguments',"
		    "'is_error':true},{'type':'text','text':'cut short'}]}],"
		    "'stream':true}");
	}
	llm_session_free(s);
}

/* ------------------------------------------------------------ answers */

#define CH(x) "data: {'id':'cc1','object':'chat.completion.chunk','model':" \
	"'gpt-x','choices':[{'index':0,'delta':" x "}]}\n\n"

/* Two calls, fragments interleaved the way OpenAI sends them. */
static const char chat_two[] =
    CH("{'role':'assistant','content':null,'tool_calls':[{'index':0,"
	"'id':'call_a','type':'function','function':{'name':'read_file',"
	"'arguments':''}}]},'finish_reason':null")
    CH("{'tool_calls':[{'index':0,'function':{'arguments':'{\\'pa'}}]},"
	"'finish_reason':null")
    CH("{'tool_calls':[{'index':0,'function':{'arguments':"
	"'th\\': \\'\\u00e9.py\\'}'}}]},'finish_reason':null")
    CH("{'tool_calls':[{'index':1,'id':'call_b','type':'function',"
	"'function':{'name':'list_files','arguments':''}}]},"
	"'finish_reason':null")
    CH("{'tool_calls':[{'index':1,'function':{'arguments':'{}'}}]},"
	"'finish_reason':null")
    CH("{},'finish_reason':'tool_calls'")
    "data: {'id':'cc1','model':'gpt-x','choices':[],'usage':"
    "{'prompt_tokens':50,'completion_tokens':9,'prompt_tokens_details':"
    "{'cached_tokens':32}}}\n\n"
    "data: [DONE]\n\n";

/* One call with text before it, whole in one fragment (Ollama, vLLM),
 * and "stop" for its finish as some servers say. */
static const char chat_one[] =
    CH("{'role':'assistant','content':'Let me look.'},"
	"'finish_reason':null")
    CH("{'tool_calls':[{'id':'call_a','type':'function','function':"
	"{'name':'read_file','arguments':'{\\'path\\': \\'\\u00e9.py\\'}'}}]},"
	"'finish_reason':null")
    CH("{},'finish_reason':'stop'")
    "data: [DONE]\n\n";

/* Calls whole, one chunk each, numbered by no index (or all index 0). */
static const char chat_unnumbered[] =
    CH("{'tool_calls':[{'id':'call_a','type':'function','function':"
	"{'name':'read_file','arguments':'{\\'path\\': \\'\\u00e9.py\\'}'}}]}")
    CH("{'tool_calls':[{'index':0,'id':'call_b','type':'function',"
	"'function':{'name':'list_files','arguments':'{}'}}]},"
	"'finish_reason':'tool_calls'")
    "data: [DONE]\n\n";

#define RE(type, rest) "event: " type "\ndata: {'type':'" type "'," rest \
	"}\n\n"
#define FC_A "{'type':'function_call','id':'fc_1','call_id':'call_a'," \
	"'name':'read_file','arguments':"
#define FC_B "{'type':'function_call','id':'fc_2','call_id':'call_b'," \
	"'name':'list_files','arguments':"

static const char responses_two[] =
    RE("response.created", "'response':{'id':'resp_t','model':'gpt-r',"
	"'status':'in_progress','output':[]}")
    RE("response.output_item.added", "'output_index':0,'item':{'type':"
	"'reasoning','id':'rs_1','summary':[]}")
    RE("response.output_item.added", "'output_index':1,'item':" FC_A
	"''}")
    RE("response.function_call_arguments.delta", "'item_id':'fc_1',"
	"'output_index':1,'delta':'{\\'pa'")
    RE("response.function_call_arguments.delta", "'item_id':'fc_1',"
	"'output_index':1,'delta':'th\\': \\'\\u00e9.py\\'}'")
    RE("response.function_call_arguments.done", "'item_id':'fc_1',"
	"'output_index':1,'arguments':'{\\'path\\': \\'\\u00e9.py\\'}'")
    RE("response.output_item.done", "'output_index':1,'item':" FC_A
	"'{\\'path\\': \\'\\u00e9.py\\'}'}")
    RE("response.output_item.added", "'output_index':2,'item':" FC_B
	"''}")
    RE("response.function_call_arguments.delta", "'item_id':'fc_2',"
	"'output_index':2,'delta':'{}'")
    RE("response.function_call_arguments.done", "'item_id':'fc_2',"
	"'output_index':2,'arguments':'{}'")
    RE("response.completed", "'response':{'id':'resp_t','model':'gpt-r',"
	"'status':'completed','output':[{'type':'reasoning','id':'rs_1',"
	"'summary':[]}," FC_A "'{\\'path\\': \\'\\u00e9.py\\'}'}," FC_B
	"'{}'}],'usage':{'input_tokens':50,'input_tokens_details':"
	"{'cached_tokens':32},'output_tokens':9}}");

/* The final object lists the calls without the reasoning item before
 * them: its positions are not the stream's output indexes. */
static const char responses_shifted[] =
    RE("response.output_item.added", "'output_index':0,'item':{'type':"
	"'reasoning','id':'rs_1','summary':[]}")
    RE("response.output_item.added", "'output_index':1,'item':" FC_A
	"''}")
    RE("response.function_call_arguments.delta", "'item_id':'fc_1',"
	"'output_index':1,'delta':'{\\'path\\': \\'\\u00e9.py\\'}'")
    RE("response.output_item.added", "'output_index':2,'item':" FC_B
	"''}")
    RE("response.function_call_arguments.delta", "'item_id':'fc_2',"
	"'output_index':2,'delta':'{}'")
    RE("response.completed", "'response':{'id':'resp_t','model':'gpt-r',"
	"'status':'completed','output':[" FC_A "'{\\'path\\': "
	"\\'\\u00e9.py\\'}'}," FC_B "'{}'}],'usage':{'input_tokens':50,"
	"'input_tokens_details':{'cached_tokens':32},'output_tokens':9}}");

/* One call whose pieces name only item_id, after a text message. */
static const char responses_one[] =
    RE("response.created", "'response':{'id':'resp_t','model':'gpt-r',"
	"'status':'in_progress','output':[]}")
    RE("response.output_text.delta", "'item_id':'msg_1','output_index':0,"
	"'content_index':0,'delta':'Let me look.'")
    RE("response.output_item.added", "'output_index':1,'item':" FC_A
	"''}")
    RE("response.function_call_arguments.delta", "'item_id':'fc_1',"
	"'delta':'{\\'path\\': \\'\\u00e9.py\\'}'")
    RE("response.completed", "'response':{'id':'resp_t','model':'gpt-r',"
	"'status':'completed','output':[{'type':'message','id':'msg_1',"
	"'role':'assistant','content':[{'type':'output_text','text':"
	"'Let me look.'}]}," FC_A "'{\\'path\\': \\'\\u00e9.py\\'}'}]}");

#define AN(type, rest) "event: " type "\ndata: {'type':'" type "'" rest \
	"}\n\n"

static const char anthropic_two[] =
    AN("message_start", ",'message':{'id':'msg_t','type':'message',"
	"'role':'assistant','model':'claude-t','content':[],'usage':"
	"{'input_tokens':10,'cache_creation_input_tokens':8,"
	"'cache_read_input_tokens':32,'output_tokens':1}}")
    AN("content_block_start", ",'index':0,'content_block':{'type':"
	"'tool_use','id':'call_a','name':'read_file','input':{}}")
    AN("ping", "")
    AN("content_block_delta", ",'index':0,'delta':{'type':"
	"'input_json_delta','partial_json':''}")
    AN("content_block_delta", ",'index':0,'delta':{'type':"
	"'input_json_delta','partial_json':'{\\'pa'}")
    AN("content_block_delta", ",'index':0,'delta':{'type':"
	"'input_json_delta','partial_json':'th\\': \\'\\u00e9.py\\'}'}")
    AN("content_block_stop", ",'index':0")
    AN("content_block_start", ",'index':1,'content_block':{'type':"
	"'tool_use','id':'call_b','name':'list_files','input':{}}")
    AN("content_block_stop", ",'index':1")
    AN("message_delta", ",'delta':{'stop_reason':'tool_use',"
	"'stop_sequence':null},'usage':{'output_tokens':9}")
    AN("message_stop", "");

static const char anthropic_one[] =
    AN("message_start", ",'message':{'id':'msg_t','type':'message',"
	"'role':'assistant','model':'claude-t','content':[],'usage':"
	"{'input_tokens':10,'output_tokens':1}}")
    AN("content_block_start", ",'index':0,'content_block':{'type':"
	"'text','text':''}")
    AN("content_block_delta", ",'index':0,'delta':{'type':'text_delta',"
	"'text':'Let me look.'}")
    AN("content_block_stop", ",'index':0")
    AN("content_block_start", ",'index':1,'content_block':{'type':"
	"'tool_use','id':'call_a','name':'read_file','input':{}}")
    AN("content_block_delta", ",'index':1,'delta':{'type':"
	"'input_json_delta','partial_json':'{\\'path\\': \\'\\u00e9.py\\'}'}")
    AN("content_block_stop", ",'index':1")
    AN("message_delta", ",'delta':{'stop_reason':'tool_use'},'usage':"
	"{'output_tokens':9}")
    AN("message_stop", "");

#define ARGS_A	"{\"path\": \"\xc3\xa9.py\"}"

static const struct llm_tool_call want_two[] = {
	{ "call_a", "read_file", ARGS_A },
	{ "call_b", "list_files", "{}" },
};

static const struct tool_stream {
	const struct llm_api *api;
	const char *stream;
	size_t ncalls;
	const char *text, *finish, *model;
	int64_t input, cached;
} tool_streams[] = {
	{ &llm_api_chat, chat_two, 2, "", "tool_calls", "gpt-x", 50, 32 },
	{ &llm_api_chat, chat_one, 1, "Let me look.", "stop", "gpt-x", 0, 0 },
	{ &llm_api_chat, chat_unnumbered, 2, "", "tool_calls", "gpt-x", 0,
	  0 },
	{ &llm_api_responses, responses_two, 2, "", "completed", "gpt-r",
	  50, 32 },
	{ &llm_api_responses, responses_shifted, 2, "", "completed", "gpt-r",
	  50, 32 },
	{ &llm_api_responses, responses_one, 1, "Let me look.", "completed",
	  "gpt-r", 0, 0 },
	{ &llm_api_anthropic, anthropic_two, 2, "", "tool_use", "claude-t",
	  50, 32 },
	{ &llm_api_anthropic, anthropic_one, 1, "Let me look.", "tool_use",
	  "claude-t", 10, 0 },
};

static void
assert_calls(const struct llm_parse *p, const struct llm_tool_call *want,
    size_t n)
{
	struct llm_tool_call *got = llm_parse_calls(p);

	assert_int_equal(p->ncalls, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(got[i].id, want[i].id);
		assert_string_equal(got[i].name, want[i].name);
		assert_string_equal(got[i].arguments, want[i].arguments);
	}
	free(got);
}

static void
assert_tool_answer(const struct tool_stream *c, const struct llm_parse *p)
{
	assert_false(p->failed);
	assert_false(p->bad);
	assert_true(p->done);
	assert_false(p->truncated);
	assert_string_equal(p->text.p != NULL ? p->text.p : "", c->text);
	assert_string_equal(p->finish, c->finish);
	assert_string_equal(p->model, c->model);
	assert_int_equal(p->usage.input, c->input);
	assert_int_equal(p->usage.cached, c->cached);
	assert_calls(p, want_two, c->ncalls);
}

static void
test_tool_streams_every_split(void **state)
{
	struct llm_parse p;

	(void)state;
	for (size_t k = 0; k < TU_NITEMS(tool_streams); k++) {
		const struct tool_stream *c = &tool_streams[k];
		char *stream = q(c->stream);
		size_t len = strlen(stream);

		/* Every 2-way split, then a byte at a time. */
		for (size_t cut = 0; cut <= len; cut++) {
			llm_parse_init(&p, c->api, NULL, NULL);
			if (llm_parse_feed(&p, stream, cut) != 0)
				fail_msg("stream %zu cut %zu: %s", k, cut,
				    p.err_message);
			if (llm_parse_feed(&p, stream + cut, len - cut) != 0)
				fail_msg("stream %zu cut %zu: %s", k, cut,
				    p.err_message);
			assert_false(llm_parse_end(&p));
			assert_tool_answer(c, &p);
			llm_parse_free(&p);
		}
		llm_parse_init(&p, c->api, NULL, NULL);
		for (size_t i = 0; i < len; i++)
			assert_int_equal(llm_parse_feed(&p, stream + i, 1), 0);
		assert_false(llm_parse_end(&p));
		assert_tool_answer(c, &p);
		llm_parse_free(&p);
		free(stream);
	}
}

static void
test_tool_whole_answers(void **state)
{
	static const struct {
		const struct llm_api *api;
		const char *json;
		const char *finish;
	} whole[] = {
		{ &llm_api_chat, "{'id':'cc1','model':'gpt-x','choices':[{"
		  "'index':0,'message':{'role':'assistant','content':null,"
		  "'tool_calls':[{'id':'call_a','type':'function','function':"
		  "{'name':'read_file','arguments':'{\\'path\\': "
		  "\\'\\u00e9.py\\'}'}},{'id':'call_b','type':'function',"
		  "'function':{'name':'list_files','arguments':'{}'}}]},"
		  "'finish_reason':'tool_calls'}]}", "tool_calls" },
		/* Only the final object: no deltas came. */
		{ &llm_api_responses, "{'id':'resp_t','model':'gpt-r',"
		  "'status':'completed','output':[" FC_A "'{\\'path\\': "
		  "\\'\\u00e9.py\\'}'}," FC_B "'{}'}]}", "completed" },
		/* input objects written back as text, key order kept. */
		{ &llm_api_anthropic, "{'id':'msg_t','model':'claude-t',"
		  "'content':[{'type':'tool_use','id':'call_a','name':"
		  "'read_file','input':{'path':'\\u00e9.py'}},{'type':"
		  "'tool_use','id':'call_b','name':'list_files','input':{}}],"
		  "'stop_reason':'tool_use'}", "tool_use" },
	};
	static const struct llm_tool_call compact_a[] = {
		{ "call_a", "read_file", "{\"path\":\"\xc3\xa9.py\"}" },
		{ "call_b", "list_files", "{}" },
	};
	struct llm_parse p;

	(void)state;
	for (size_t i = 0; i < TU_NITEMS(whole); i++) {
		char *json = q(whole[i].json);

		llm_parse_init(&p, whole[i].api, NULL, NULL);
		llm_parse_whole(&p, json, strlen(json));
		assert_true(p.done);
		assert_false(p.bad || p.failed);
		assert_string_equal(p.finish, whole[i].finish);
		assert_calls(&p, whole[i].api == &llm_api_anthropic ?
		    compact_a : want_two, 2);
		llm_parse_free(&p);
		free(json);
	}
}

/* Cut by max_tokens inside a call's arguments: truncated, and the call
 * is there with what it had. */
static void
test_tool_truncated(void **state)
{
	static const struct {
		const struct llm_api *api;
		const char *stream;
	} cut[] = {
		{ &llm_api_chat,
		  CH("{'tool_calls':[{'index':0,'id':'call_a','type':"
		    "'function','function':{'name':'read_file','arguments':"
		    "'{\\'path\\': \\'a'}}]},'finish_reason':null")
		  CH("{},'finish_reason':'length'")
		  "data: [DONE]\n\n" },
		{ &llm_api_responses,
		  RE("response.output_item.added", "'output_index':0,'item':"
		    FC_A "''}")
		  RE("response.function_call_arguments.delta", "'item_id':"
		    "'fc_1','output_index':0,'delta':'{\\'path\\': \\'a'")
		  RE("response.incomplete", "'response':{'id':'r','status':"
		    "'incomplete','incomplete_details':{'reason':"
		    "'max_output_tokens'},'output':[" FC_A
		    "'{\\'path\\': \\'a'}]}") },
		{ &llm_api_anthropic,
		  AN("content_block_start", ",'index':0,'content_block':{"
		    "'type':'tool_use','id':'call_a','name':'read_file',"
		    "'input':{}}")
		  AN("content_block_delta", ",'index':0,'delta':{'type':"
		    "'input_json_delta','partial_json':'{\\'path\\': \\'a'}")
		  AN("message_delta", ",'delta':{'stop_reason':"
		    "'max_tokens'}")
		  AN("message_stop", "") },
	};
	static const struct llm_tool_call want[] = {
		{ "call_a", "read_file", "{\"path\": \"a" },
	};
	struct llm_parse p;

	(void)state;
	for (size_t i = 0; i < TU_NITEMS(cut); i++) {
		char *stream = q(cut[i].stream);

		llm_parse_init(&p, cut[i].api, NULL, NULL);
		assert_int_equal(llm_parse_feed(&p, stream, strlen(stream)),
		    0);
		assert_false(llm_parse_end(&p));
		assert_true(p.done && p.truncated && !p.failed);
		assert_calls(&p, want, 1);
		llm_parse_free(&p);
		free(stream);
	}
}

static void
test_tools_refused(void **state)
{
	static const struct {
		int status;
		const char *message;
		bool refused;
	} cases[] = {
		{ 400, "HTTP 400: registry.ollama.ai/library/x does not "
		  "support tools", true },
		{ 400, "HTTP 400: \"auto\" tool choice requires "
		  "--enable-auto-tool-choice and --tool-call-parser to be set",
		  true },
		{ 500, "HTTP 500: tools param requires --jinja flag", true },
		{ 422, "HTTP 422: Tools are not supported", true },
		{ 404, "HTTP 404: TOOL use unknown", true },
		{ 400, "HTTP 400: context too long", false },
		{ 429, "HTTP 429: too many tool calls per minute", false },
		{ 401, "HTTP 401: tools need a key", false },
	};
	struct llm_result r;

	(void)state;
	for (size_t i = 0; i < TU_NITEMS(cases); i++) {
		memset(&r, 0, sizeof(r));
		r.error = LLM_ERR_HTTP;
		r.http_status = cases[i].status;
		r.message = cases[i].message;
		assert_int_equal(llm_result_tools_refused(&r),
		    cases[i].refused);
	}
	/* Only an HTTP refusal: not a stream error, not a success. */
	r.error = LLM_ERR_STREAM;
	r.http_status = 400;
	r.message = "tool";
	assert_false(llm_result_tools_refused(&r));
	memset(&r, 0, sizeof(r));
	r.ok = true;
	r.http_status = 200;
	r.message = "tool";
	assert_false(llm_result_tools_refused(&r));
}

/* ------------------------------------------------------------ file */

static char *
body_of(struct llm_session *s, const struct llm_input *in)
{
	struct llm_turn next;
	char err[256], *body;

	llm_turn_input(&next, in);
	body = llm_session_body_turn(s, &next, err, sizeof(err));
	llm_turn_free(&next);
	assert_non_null(body);
	return body;
}

static void
test_file_v2(void **state)
{
	struct llm_conf c;
	struct llm_session *s, *t;
	struct llm_input in;
	char dir[PATH_MAX], path[PATH_MAX], err[256], *a, *b, *text;
	static const char bad[] = "caf\xe9 \xff";

	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	tu_join(path, sizeof(path), dir, "session.json");
	s = called_session("anthropic", &in);
	fake_turn(s, &in, "Done.", NULL, 0, "msg_2");
	/* Text that is not UTF-8 is scrubbed, so the turn is kept. */
	text_turn(s, bad, "ok");
	assert_string_equal(s->turns[2].user, "caf? ?");
	assert_int_equal(llm_session_compact(s, 2, "we began"), 0);
	in.text = "again";
	in.nresults = 0;
	fake_turn(s, &in, "", two_calls, 2, "msg_3");
	in.text = NULL;
	in.nresults = 2;
	fake_turn(s, &in, "Done.", NULL, 0, "msg_4");
	assert_int_equal(llm_session_save(s, path, err, sizeof(err)), 0);
	text = tu_read_file(path);
	assert_non_null(strstr(text, "\"version\": 2"));
	assert_non_null(strstr(text, "\"summary\": true"));
	assert_non_null(strstr(text, "\"results\""));
	free(text);

	conf_init(&c, "anthropic");
	t = new_session(&c, NULL);
	assert_int_equal(llm_session_load(t, path, err, sizeof(err)), 0);
	assert_int_equal(llm_session_turns(t), 4);
	assert_true(t->turns[0].summary);
	assert_string_equal(t->turns[1].user, "caf? ?");
	assert_int_equal(t->turns[2].ncalls, 2);
	assert_string_equal(t->turns[2].calls[0].arguments,
	    "{\"path\":\"a.py\"}");
	assert_null(t->turns[3].user);
	assert_int_equal(t->turns[3].nresults, 2);
	assert_true(t->turns[3].results[1].error);
	/* The same transcript: the same request. */
	set_tools(t);
	in.text = "more";
	in.nresults = 0;
	a = body_of(s, &in);
	b = body_of(t, &in);
	assert_string_equal(a, b);
	free(a);
	free(b);
	llm_session_free(t);
	llm_session_free(s);

	/* A version 1 file still loads. */
	tu_write_file(path, "{\"version\":1,\"api\":\"chat\",\"system\":"
	    "\"SYS\",\"turns\":[{\"time\":1,\"user\":\"hi\",\"assistant\":"
	    "\"one\",\"usage\":{\"input\":3,\"output\":1,\"calls\":1}}],"
	    "\"usage\":{\"input\":3,\"output\":1,\"calls\":1}}");
	conf_init(&c, "chat");
	t = new_session(&c, NULL);
	assert_int_equal(llm_session_load(t, path, err, sizeof(err)), 0);
	assert_int_equal(llm_session_turns(t), 1);
	assert_string_equal(t->turns[0].assistant, "one");
	assert_int_equal(t->turns[0].ncalls, 0);
	assert_int_equal(llm_session_usage(t)->input, 3);
	llm_session_free(t);
	/* A result without its content is not a turn. */
	tu_write_file(path, "{\"version\":2,\"api\":\"chat\",\"turns\":["
	    "{\"results\":[{\"id\":\"x\"}],\"assistant\":\"a\"}]}");
	t = new_session(&c, NULL);
	assert_int_equal(llm_session_load(t, path, err, sizeof(err)), -1);
	llm_session_free(t);
	tu_rmtree(dir);
}

/* ------------------------------------------------------------ context */

/* turns: 0 text, 1 text (calls), 2 results (calls), 3 results, 4 text */
static struct llm_session *
five_turns(const char *provider)
{
	static const struct call_spec one[] = {
		{ "c1", "read_file", "{'path':'a.py'}" },
	};
	static const struct call_spec other[] = {
		{ "c2", "read_file", "{'path':'b.py'}" },
	};
	struct llm_tool_result r1 = { "c1", "read_file", NULL, false };
	struct llm_tool_result r2 = { "c2", "read_file", "short", false };
	struct llm_input in = { 0 };
	struct llm_conf c;
	struct llm_session *s;
	char big[2311];

	memset(big, 'x', 2310);
	big[2310] = '\0';
	r1.content = big;
	conf_init(&c, provider);
	s = new_session(&c, "SYS");
	text_turn(s, "start", "ok");
	in.text = "read a";
	fake_turn(s, &in, "", one, 1, "r_2");
	in.text = NULL;
	in.results = &r1;
	in.nresults = 1;
	fake_turn(s, &in, "", other, 1, "r_3");
	in.results = &r2;
	fake_turn(s, &in, "both read", NULL, 0, "r_4");
	text_turn(s, "next", "fine");
	return s;
}

static void
test_cut_point(void **state)
{
	struct llm_session *s = five_turns("chat");

	(void)state;
	assert_int_equal(llm_session_cut_point(s, 0), 5);
	assert_int_equal(llm_session_cut_point(s, 1), 4);
	/* Turns 3 and 2 carry results: a window cannot open on them. */
	assert_int_equal(llm_session_cut_point(s, 2), 4);
	assert_int_equal(llm_session_cut_point(s, 3), 4);
	assert_int_equal(llm_session_cut_point(s, 4), 1);
	assert_int_equal(llm_session_cut_point(s, 5), 0);
	assert_int_equal(llm_session_cut_point(s, 99), 0);
	llm_session_free(s);
}

static void
test_compact(void **state)
{
	struct llm_session *s = five_turns("openai-responses");
	struct llm_input in = { .text = "go" };

	(void)state;
	assert_string_equal(llm_session_response_id(s), "r_4");
	assert_int_equal(llm_session_compact(s, 0, "no"), -1);
	assert_int_equal(llm_session_compact(s, 6, "no"), -1);
	assert_int_equal(llm_session_turns(s), 5);
	assert_int_equal(llm_session_compact(s, 4, "We read a.py and b.py."),
	    0);
	assert_int_equal(llm_session_turns(s), 2);
	assert_true(s->turns[0].summary);
	assert_string_equal(s->turns[0].user, "Summary of the earlier "
	    "conversation (written by you):\n\nWe read a.py and b.py.");
	/* Usage stays counted: in the session and in the summary turn. */
	assert_int_equal(s->turns[0].usage.input, 40);
	assert_int_equal(llm_session_usage(s)->input, 50);
	/* The server's long copy is let go: the compacted one is sent. */
	assert_null(llm_session_response_id(s));
	assert_body_in(s, &in, "{'model':'m-test','instructions':'SYS',"
	    "'input':[{'role':'user','content':'Summary of the earlier "
	    "conversation (written by you):\\n\\nWe read a.py and b.py.'},"
	    "{'role':'assistant','content':'Understood. I will go on from "
	    "this summary.'},{'role':'user','content':'next'},"
	    "{'role':'assistant','content':'fine'},"
	    "{'role':'user','content':'go'}],'max_output_tokens':100,"
	    "'store':true,'stream':true,'truncation':'auto'}");
	llm_session_free(s);
}

/* A cut before a turn that answers calls now in the summary: its results
 * become its text, and no result is sent without its call. */
static void
test_compact_before_results(void **state)
{
	struct llm_session *s = five_turns("chat");

	(void)state;
	assert_int_equal(llm_session_compact(s, 2, "We asked for a.py."), 0);
	assert_int_equal(llm_session_turns(s), 4);
	assert_int_equal(s->turns[1].nresults, 0);
	assert_non_null(strstr(s->turns[1].user, "The results of your last "
	    "tool calls (the calls are in the summary above):\n\n"
	    "## read_file\nxxxx"));
	/* The turn's own calls and the next turn's results stay paired. */
	assert_int_equal(s->turns[1].ncalls, 1);
	assert_int_equal(s->turns[2].nresults, 1);
	llm_session_free(s);
}

static void
test_elide(void **state)
{
	struct llm_session *s = five_turns("chat");
	char *before, *after;
	struct llm_input in = { .text = "go" };

	(void)state;
	llm_session_elide_results(s, 3);
	assert_string_equal(s->turns[2].results[0].content,
	    "[read_file: 2310 bytes, seen earlier, elided]");
	assert_false(s->turns[2].results[0].error);
	/* Not before turn 3: kept whole; a short result is kept anyway. */
	llm_session_elide_results(s, 99);
	assert_string_equal(s->turns[3].results[0].content, "short");
	/* Elided twice reads the same: the prefix stays cached. */
	before = body_of(s, &in);
	llm_session_elide_results(s, 99);
	after = body_of(s, &in);
	assert_string_equal(before, after);
	assert_null(strstr(after, "xxxx"));
	free(before);
	free(after);
	llm_session_free(s);
}

static void
test_estimate(void **state)
{
	struct llm_session *s = five_turns("chat");
	struct llm_input in = { .text = "go on then" };
	size_t sum;

	(void)state;
	sum = llm_tokens_estimate("SYS") + llm_tokens_estimate("go on then");
	for (size_t i = 0; i < s->nturns; i++)
		sum += llm_turn_tokens(&s->turns[i]);
	assert_int_equal(llm_session_estimate(s, &in), sum);
	/* The big result weighs in. */
	assert_true(llm_turn_tokens(&s->turns[2]) > 2310 / 3);
	set_tools(s);
	assert_int_equal(llm_session_estimate(s, &in), sum +
	    llm_tools_tokens(s));
	assert_true(llm_tools_tokens(s) > 0);
	assert_int_equal(llm_session_budget(s), 100000 - 100);
	assert_string_equal(llm_session_model(s), "m-test");
	/* What fits the estimate is sent whole; a token less, it is not. */
	{
		struct llm_turn next;

		llm_turn_input(&next, &in);
		s->conf.context_tokens = (int64_t)llm_session_estimate(s, &in)
		    + s->conf.max_tokens;
		assert_int_equal(llm_session_window(s, &next), 0);
		s->conf.context_tokens--;
		assert_true(llm_session_window(s, &next) > 0);
		llm_turn_free(&next);
	}
	llm_session_free(s);
}

/* The last-resort trim never opens a window on results. */
static void
test_window_skips_results(void **state)
{
	struct llm_session *s = five_turns("chat");
	struct llm_turn next;
	struct llm_input in = { .text = "go" };
	size_t keep;

	(void)state;
	llm_turn_input(&next, &in);
	/* Room for turns 2..4 exactly: the window opens at 4 instead. */
	keep = llm_turn_tokens(&s->turns[2]) + llm_turn_tokens(&s->turns[3]) +
	    llm_turn_tokens(&s->turns[4]);
	s->conf.context_tokens = (int64_t)(keep + s->conf.max_tokens +
	    llm_tokens_estimate("SYS") + llm_turn_tokens(&next));
	assert_int_equal(llm_session_window(s, &next), 4);
	llm_turn_free(&next);
	/* Results alone, their call left out: refused, not sent. */
	in.text = NULL;
	in.results = &(struct llm_tool_result){ "c9", "x", "y", false };
	in.nresults = 1;
	llm_turn_input(&next, &in);
	s->conf.context_tokens = (int64_t)(s->conf.max_tokens +
	    llm_tokens_estimate("SYS") + llm_turn_tokens(&next) + 1);
	assert_int_equal(llm_session_window(s, &next), (size_t)-1);
	llm_turn_free(&next);
	llm_session_free(s);
}

static void
test_transcript(void **state)
{
	struct llm_session *s = five_turns("chat");
	char *t;

	(void)state;
	t = llm_session_transcript(s, 3, 5, 10000);
	assert_string_equal(t, "result: short\nassistant: both read\n"
	    "user: next\nassistant: fine\n");
	free(t);
	t = llm_session_transcript(s, 0, 2, 10000);
	assert_string_equal(t, "user: start\nassistant: ok\nuser: read a\n"
	    "call read_file({\"path\":\"a.py\"})\n");
	free(t);
	/* Too long: the oldest part goes, from a line start, with a note. */
	t = llm_session_transcript(s, 0, 5, 100);
	assert_true(strlen(t) <= 100);
	assert_non_null(strstr(t, "bytes of the conversation are left "
	    "out]\n"));
	assert_non_null(strstr(t, "user: next\nassistant: fine\n"));
	assert_int_equal(t[strlen(t) - 1], '\n');
	free(t);
	llm_session_free(s);
}

/* Anthropic: a tool must have a schema, a result may not be empty text. */
static void
test_anthropic_edges(void **state)
{
	static const struct call_spec call[] = {
		{ "toolu_1", "finish", "{}" },
	};
	static const struct llm_tool_result res[] = {
		{ "toolu_1", "finish", "", false },
	};
	struct llm_input in = { .text = "go" };
	struct llm_conf c;
	struct llm_session *s;
	json_error_t jerr;
	json_t *tools;
	char *text = q("[{'name':'finish'}]");

	(void)state;
	conf_init(&c, "anthropic");
	s = new_session(&c, NULL);
	tools = json_loads(text, 0, &jerr);
	llm_session_set_tools(s, tools);
	json_decref(tools);
	free(text);
	fake_turn(s, &in, "", call, 1, "m1");
	in.text = NULL;
	in.results = res;
	in.nresults = 1;
	assert_body_in(s, &in, "{'model':'m-test','max_tokens':100,"
	    "'messages':[{'role':'user','content':'go'},"
	    "{'role':'assistant','content':[{'type':'tool_use','id':"
	    "'toolu_1','name':'finish','input':{},'cache_control':"
	    "{'type':'ephemeral'}}]},"
	    "{'role':'user','content':[{'type':'tool_result','tool_use_id':"
	    "'toolu_1','is_error':false}]}],"
	    "'tools':[{'name':'finish','input_schema':{'type':'object'},"
	    "'cache_control':{'type':'ephemeral'}}],'stream':true}");
	llm_session_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chat_tools_body),
		cmocka_unit_test(test_unpaired_results),
		cmocka_unit_test(test_max_tokens_field),
		cmocka_unit_test(test_default_max_tokens),
		cmocka_unit_test(test_responses_tools_body),
		cmocka_unit_test(test_anthropic_tools_body),
		cmocka_unit_test(test_anthropic_edges),
		cmocka_unit_test(test_tool_streams_every_split),
		cmocka_unit_test(test_tool_whole_answers),
		cmocka_unit_test(test_tool_truncated),
		cmocka_unit_test(test_tools_refused),
		cmocka_unit_test(test_file_v2),
		cmocka_unit_test(test_cut_point),
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_compact_before_results),
		cmocka_unit_test(test_elide),
		cmocka_unit_test(test_estimate),
		cmocka_unit_test(test_window_skips_results),
		cmocka_unit_test(test_transcript),
	};

	tu_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
