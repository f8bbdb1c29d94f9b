#!/bin/sh
# The main job: start masterd on a throwaway state directory and socket,
# submit "Implement an app to manage employee payslips", follow it live
# until it ends, show the aggregated interfaces and the project's git log,
# keep the project (main, checked out under MASTERD_DEMO_OUT, else $TMPDIR
# or /tmp, never in this tree) and say how to run it, show the integration
# result and the app's HTTP response, and stop the daemon.  The throwaway
# state (registry, sockets, logs) is removed.
#
# The model: OPENAI_API_KEY or ANTHROPIC_API_KEY in the environment, or
# MASTERD_DEMO_BASE_URL naming a local OpenAI-compatible server (Ollama,
# llama-server), selects a real one (MASTERD_DEMO_MODEL picks the model).
# Without any of them the project's test LLM server answers with a scripted
# payslips conversation, and the first line says so.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
ctl="$BUILD/masterctl"
TASK="Implement an app to manage employee payslips"

T=$(mktemp -d "${TMPDIR:-/tmp}/masterd-demo.XXXXXX")
export MASTERD_SOCKET="$T/control.sock"
cleanup() {
	if [ -n "${MD:-}" ] && kill -0 "$MD" 2>/dev/null; then
		kill -TERM "$MD"
		wait "$MD" 2>/dev/null
	fi
	[ -n "${LLMD:-}" ] && kill "$LLMD" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

# The checks run in the sandbox, which shows them the system directories:
# a python3 from elsewhere (pyenv's shims) needs its tree named.
python_tree() {
	py=$(command -v python3) || return 0
	tree=$(dirname "$(dirname "$py")")
	case "$tree" in /usr|/usr/local|/) ;; *) echo "sandbox_read = $tree" ;; esac
}

wait_for() {	# up to 60 s, polling
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "demo: gave up waiting: $*" >&2; exit 1; }
		sleep 0.1
	done
}

step() {
	printf '\n==> %s\n' "$*"
}

# Where the project is kept: MASTERD_DEMO_OUT, else $TMPDIR or /tmp; never
# inside this source tree.
out_parent() {
	dir=${MASTERD_DEMO_OUT:-${TMPDIR:-/tmp}}
	if ! real=$(cd "$dir" 2>/dev/null && pwd -P); then
		# A directory to make: its parent must exist.
		real=""
		if parent=$(cd "$(dirname "$dir")" 2>/dev/null && pwd -P); then
			real="$parent/$(basename "$dir")"
		fi
	fi
	case "$real/" in
	"$(cd "$top" && pwd -P)"/*|/)
		echo "demo: $dir is inside the source tree (or unusable): keeping the project under ${TMPDIR:-/tmp} instead" >&2
		real=${TMPDIR:-/tmp} ;;
	esac
	mkdir -p "$real" 2>/dev/null
	echo "$real"
}

# keep_project: main of the task's repository checked out where it
# survives the demo (OUT), with its history; prints how to run it.
keep_project() {
	OUT=""
	if ! command -v git >/dev/null 2>&1; then
		echo "(git is not installed: the project is not kept)"
		return
	fi
	OUT=$(mktemp -d "$(out_parent)/masterd-demo-project.XXXXXX") || { OUT=""; return; }
	if ! git clone -q -b main "$T/state/tasks/1/repo.git" "$OUT" 2>"$T/clone.err"; then
		echo "(could not check out main: $(cat "$T/clone.err"))"
		rmdir "$OUT" 2>/dev/null
		OUT=""
		return
	fi
	git -C "$OUT" remote remove origin
	echo "The project is kept in $OUT (main, with its history)."
	if [ -f "$OUT/logic/server.py" ] && [ -z "$REAL_MODEL" ]; then
		echo "Run the app:   cd $OUT && python3 logic/server.py --port 8000"
		echo "then open      http://127.0.0.1:8000/  (or: curl http://127.0.0.1:8000/employees/1/payslips)"
	fi
	plan_checks | while IFS= read -r c; do
		echo "Check it:      cd $OUT && $c"
	done
}

# The plan's integration checks, one a line.
plan_checks() {
	"$ctl" --json task 1 2>/dev/null | python3 -c '
import json, sys
plan = json.load(sys.stdin)["task"]["spec"].get("plan") or {}
for c in plan.get("integration_checks") or []:
    print(c)'
}

# show_integration: masterd's integration runs on main (masterctl task
# --json: integration.runs, newest first) and the output of the latest
# passing one: the built app's HTTP response.
show_integration() {
	"$ctl" --json task 1 >"$T/task.json" 2>/dev/null
	python3 - "$T/task.json" <<'PY' || echo "(could not read the integration runs)"
import json, sys
r = json.load(open(sys.argv[1]))
g = r.get("integration") or {}
runs = g.get("runs") or []
print("integration on main: %s" % g.get("status", "?"))
if not runs:
    print("no integration run was made")
    sys.exit(0)
for run in runs[:5]:
    print("run %s on %s: %s" % (run.get("id"), str(run.get("commit"))[:12],
                                run.get("state")))
    for x in run.get("results") or []:
        print("   %-6s %s (exit %s)" % ("pass" if x.get("passed") else "FAIL",
                                      x.get("command"), x.get("exit_status")))
if len(runs) > 5:
    print("(and %d older runs)" % (len(runs) - 5))
passing = [run for run in runs if run.get("state") == "passed"]
if passing:
    run = passing[0]
    print("\nThe latest passing run (%s), its output:" % run.get("id"))
    for x in run.get("results") or []:
        print("$ " + str(x.get("command")))
        print((x.get("output") or "").rstrip())
PY
}

# The [llm] section for the model in use.
model_config() {
	REAL_MODEL=yes
	if [ -n "${OPENAI_API_KEY:-}" ]; then
		echo "masterd demo: using the OpenAI Responses API, model ${MASTERD_DEMO_MODEL:-gpt-4.1-mini} (OPENAI_API_KEY is set)" >&2
		printf '[llm]\nprovider = openai-responses\nmodel = %s\nkey_env = OPENAI_API_KEY\n' \
		    "${MASTERD_DEMO_MODEL:-gpt-4.1-mini}"
	elif [ -n "${ANTHROPIC_API_KEY:-}" ]; then
		echo "masterd demo: using the Anthropic Messages API, model ${MASTERD_DEMO_MODEL:-claude-sonnet-4-5} (ANTHROPIC_API_KEY is set)" >&2
		printf '[llm]\nprovider = anthropic\nmodel = %s\nkey_env = ANTHROPIC_API_KEY\n' \
		    "${MASTERD_DEMO_MODEL:-claude-sonnet-4-5}"
	elif [ -n "${MASTERD_DEMO_BASE_URL:-}" ]; then
		echo "masterd demo: using the local server at $MASTERD_DEMO_BASE_URL, model ${MASTERD_DEMO_MODEL:-llama3.1}" >&2
		printf '[llm]\nprovider = chat\nbase_url = %s\nmodel = %s\ncontext_tokens = %s\n' \
		    "$MASTERD_DEMO_BASE_URL" "${MASTERD_DEMO_MODEL:-llama3.1}" \
		    "${MASTERD_DEMO_CONTEXT:-8192}"
	else
		REAL_MODEL=""
		echo "masterd demo: SCRIPTED MODEL - no real model is used. The project's test LLM server (tests/llmd) answers every request from a scripted payslips conversation. Set OPENAI_API_KEY, ANTHROPIC_API_KEY or MASTERD_DEMO_BASE_URL for a real one." >&2
		start_scripted_model
		printf '[llm]\nprovider = chat\nbase_url = http://127.0.0.1:%s/v1\nmodel = scripted-payslips\ncontext_tokens = 32000\n' \
		    "$(cat "$T/llmd.port")"
	fi
}

start_scripted_model() {
	python3 "$top/tests/llmd/scripts/payslips.py" >"$T/script.json" || exit 1
	python3 "$top/tests/llmd/llmd.py" --script "$T/script.json" \
	    --port-file "$T/llmd.port" --max-lifetime 900 \
	    >"$T/llmd.log" 2>&1 &
	LLMD=$!
	wait_for test -s "$T/llmd.port"
}

{
	model_config
	cat <<CONF

[masterd]
state_dir = $T/state
control_socket = $MASTERD_SOCKET
prompts_dir = $top/prompts
$(python_tree)

[task]
max_reviews = 3
max_rounds = 60
max_time = 30m
CONF
} >"$T/masterd.conf" 2>"$T/first-line" || exit 1
cat "$T/first-line"

step "starting masterd (state $T/state)"
"$BUILD/masterd" -f -c "$T/masterd.conf" 2>"$T/masterd.log" &
MD=$!
wait_for "$ctl" status
"$ctl" status

step "masterctl submit \"$TASK\" --wait"
echo "(live events: domains starting, rounds, checks, interface versions, directives, tokens)"
"$ctl" submit "$TASK" --wait
rc=$?

step "masterctl task 1"
"$ctl" task 1

step "masterctl interfaces"
"$ctl" interfaces 1

step "the project: git log of main"
if command -v git >/dev/null 2>&1; then
	git --git-dir="$T/state/tasks/1/repo.git" log --graph --format='%h %an: %s' main
	echo
	git --git-dir="$T/state/tasks/1/repo.git" ls-tree -r --name-only main
else
	echo "(git is not installed; the repository is $T/state/tasks/1/repo.git)"
fi

step "the project, kept"
keep_project

step "integration: the app on main, run end to end"
show_integration

step "masterctl stop"
"$ctl" stop >/dev/null
wait "$MD"
MD=
echo "masterd stopped."
exit $rc
