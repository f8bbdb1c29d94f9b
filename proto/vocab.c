/*
 * vocab.c — the name tables of vocab.h.  A name here is a promise to
 * masterctl, the registry's stored rows and anyone reading events: change
 * none, only add.
 */
#include <string.h>

#include "proto/vocab.h"

const char *const task_state_names[TASK_STATE_COUNT] = {
	[TASK_PLANNED] = "planned",
	[TASK_BUILDING] = "building",
	[TASK_INTEGRATING] = "integrating",
	[TASK_IMPROVING] = "improving",
	[TASK_DONE] = "done",
	[TASK_FAILED] = "failed",
	[TASK_CANCELLED] = "cancelled",
};

const char *const domain_state_names[DOMAIN_STATE_COUNT] = {
	[DOMAIN_STOPPED] = "stopped",
	[DOMAIN_STARTING] = "starting",
	[DOMAIN_RUNNING] = "running",
	[DOMAIN_BACKOFF] = "backoff",
	[DOMAIN_FATAL] = "fatal",
	[DOMAIN_DONE] = "done",
};

const char *const run_state_names[RUN_STATE_COUNT] = {
	[RUN_RUNNING] = "running",
	[RUN_PASSED] = "passed",
	[RUN_FAILED] = "failed",
	[RUN_ERROR] = "error",
	[RUN_CANCELLED] = "cancelled",
};

const char *const integration_status_names[INTEG_STATUS_COUNT] = {
	[INTEG_NONE] = "none",
	[INTEG_PENDING] = "pending",
	[INTEG_RUNNING] = "running",
	[INTEG_PASSED] = "passed",
	[INTEG_FAILED] = "failed",
	[INTEG_ATTRIBUTED] = "attributed",
};

const char *const directive_state_names[DIRECTIVE_STATE_COUNT] = {
	[DIRECTIVE_QUEUED] = "queued",
	[DIRECTIVE_RUNNING] = "running",
	[DIRECTIVE_DONE] = "done",
	[DIRECTIVE_FAILED] = "failed",
	[DIRECTIVE_DROPPED] = "dropped",
};

const char *const source_names[SOURCE_COUNT] = {
	[SOURCE_PLAN] = "plan",
	[SOURCE_INTERFACE] = "interface",
	[SOURCE_REVIEW] = "review",
	[SOURCE_USER] = "user",
	[SOURCE_INTEGRATION] = "integration",
};

const char *const budget_key_names[BUDGET_KEY_COUNT] = {
	[BUDGET_TOKENS] = "tokens",
	[BUDGET_COST] = "cost",
	[BUDGET_ROUNDS] = "rounds",
	[BUDGET_TIME] = "time",
};

const struct event_def event_defs[EV_COUNT] = {
	[EV_TASK_SUBMITTED] = { "task.submitted", "text,domains" },
	[EV_TASK_STATE] = { "task.state", "state,reason" },
	[EV_TASK_PLANNED] = { "task.planned", "plan,model" },
	[EV_TASK_REVIEWED] = { "task.reviewed", "review,model" },
	[EV_TASK_PAUSED] = { "task.paused", "reason" },
	[EV_TASK_RESUMED] = { "task.resumed", "" },
	[EV_TASK_RESUMED_AFTER_RESTART] = { "task.resumed_after_restart", "" },
	[EV_TASK_LIMIT] = { "task.limit", "reason" },
	[EV_TASK_BUDGET] = { "task.budget", "budget" },
	[EV_DOMAIN_ADDED] = { "domain.added", "" },
	[EV_DOMAIN_STATE] = { "domain.state", "from,to,reason" },
	[EV_DOMAIN_HELD] = { "domain.held",
	    "until,reason,provider,endpoint" },
	[EV_DOMAIN_RESUMED] = { "domain.resumed", "endpoint" },
	[EV_PROVIDER_DOWN] = { "provider.down",
	    "provider,endpoint,reason,next_try" },
	[EV_PROVIDER_PROBE] = { "provider.probe",
	    "provider,endpoint,ok,failures,reason,next_try" },
	[EV_PROVIDER_UP] = { "provider.up", "provider,endpoint,down_for" },
	[EV_DIRECTIVE_QUEUED] = { "directive.queued",
	    "directive,source,text" },
	[EV_DIRECTIVE_MERGED] = { "directive.merged",
	    "directive,source,text" },
	[EV_DIRECTIVE_RUNNING] = { "directive.running", "directive" },
	[EV_DIRECTIVE_DONE] = { "directive.done",
	    "directive,commit,summary" },
	[EV_DIRECTIVE_RETRY] = { "directive.retry",
	    "directive,code,reason,not_before" },
	[EV_DIRECTIVE_DROPPED] = { "directive.dropped",
	    "directive,code,reason" },
	[EV_INTERFACE_PUBLISHED] = { "interface.published",
	    "version,declared" },
	[EV_INTERFACE_REFUSED] = { "interface.refused", "reason" },
	[EV_INTERFACES_UNRESOLVED] = { "interfaces.unresolved", "count" },
	[EV_ROUND] = { "round",
	    "directive,round,ok,stage,commit,error,usage,model,provider" },
	[EV_PROGRESS] = { "progress", "stage,text" },
	[EV_MERGED] = { "merged", "commit" },
	[EV_MERGE_FAILED] = { "merge.failed", "reason" },
	[EV_INTEGRATION_STARTED] = { "integration.started", "run,commit,checks" },
	[EV_INTEGRATION_PASSED] = { "integration.passed",
	    "run,commit,duration_ms" },
	[EV_INTEGRATION_FAILED] = { "integration.failed",
	    "run,commit,failed,error" },
	[EV_INTEGRATION_ATTRIBUTED] = { "integration.attributed",
	    "run,commit,directives,reason" },
	[EV_QUESTION_ASKED] = { "question.asked",
	    "question,who,text,assumption,deadline" },
	[EV_QUESTION_ANSWERED] = { "question.answered",
	    "question,who,answer" },
	[EV_QUESTION_EXPIRED] = { "question.expired",
	    "question,who,assumption" },
	[EV_QUESTION_DEADLINE] = { "question.deadline",
	    "question,who,deadline" },
	[EV_APPROVAL_NEEDED] = { "approval.needed",
	    "approval,what,commit,summary" },
	[EV_APPROVAL_GIVEN] = { "approval.given", "approval,what" },
	[EV_APPROVAL_REJECTED] = { "approval.rejected",
	    "approval,what,reason" },
	[EV_TASK_PUSHED] = { "task.pushed", "to,branch,commit,was" },
	[EV_TASK_PUSH_FAILED] = { "task.push_failed", "to,branch,commit,error" },
};

const char *const err_names[E_COUNT] = {
	[E_BAD_FRAME] = ERR_BAD_FRAME,
	[E_BAD_REQUEST] = ERR_BAD_REQUEST,
	[E_UNKNOWN] = ERR_UNKNOWN,
	[E_NOT_FOUND] = ERR_NOT_FOUND,
	[E_REFUSED] = ERR_REFUSED,
	[E_CONFLICT] = ERR_CONFLICT,
	[E_BUSY] = ERR_BUSY,
	[E_VERSION] = ERR_VERSION,
	[E_INTERNAL] = ERR_INTERNAL,
	[E_STORAGE] = ERR_STORAGE,
	[E_RATE_LIMITED] = ERR_RATE_LIMITED,
	[E_CANCELLED] = ERR_CANCELLED,
	[E_SANDBOX] = ERR_SANDBOX,
	[E_TOO_LARGE] = ERR_TOO_LARGE,
	[E_PROVIDER_DOWN] = ERR_PROVIDER_DOWN,
	[E_SETUP] = ERR_SETUP,
};

int
vocab_find(const char *const *names, int n, const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return i;
	return -1;
}

bool
task_state_over(enum task_state s)
{
	return s == TASK_DONE || s == TASK_FAILED || s == TASK_CANCELLED;
}

bool
task_state_name_over(const char *name)
{
	int s = vocab_find(task_state_names, TASK_STATE_COUNT, name);

	return s >= 0 && task_state_over((enum task_state)s);
}
