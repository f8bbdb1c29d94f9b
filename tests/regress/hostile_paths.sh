# Invariant: files a model names that a domain must not write — a path
# with a NUL in it, a 2 MiB file, 500 files at once, a component longer
# than NAME_MAX, a path longer than PATH_MAX, a file and a directory of the
# same name, "." and "", names NTFS or HFS+ take for ".git" — are refused with a reason that goes back to the
# model, nothing of the refused answer is written or committed, the child
# does not crash, and the model's next (good) answer is committed; a path
# of 300 components, legal if odd, is either committed exactly where it
# was named or refused with a reason.  Nothing lands outside the domain's
# folder.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-regress-paths-$$"

llmd_script <<'PY'
import json, sys
from answers import *
good = lambda d: answer(d, [f("good.txt", "good\n")], "the good answer")
hostile = {
    "nul": [f("ok.txt\u0000/../../../escape-nul", "nul\n")],
    "huge": [f("big.bin", "x" * (2 << 20))],
    "many": [f(f"m/{i}.txt", f"{i}\n") for i in range(500)],
    "longname": [f("n" * 300 + ".txt")],
    "pathmax": [f("/".join(["p" * 200] * 25) + "/f.txt")],
    "clash": [f("a", "file\n"), f("a/b", "under a file\n")],
    "dot": [f(".", "dot\n")],
    "empty": [f("", "empty\n")],
    "deep": [f("/".join(["d"] * 299) + "/f.txt", "deep\n")],
    # Names git takes for .git on NTFS or HFS+: libgit2 refuses the first
    # at commit (which wedged the domain), fsck --strict the second.
    "dotgitsp": [f(".git /config", "[core]\n")],
    "dotgitzw": [f(".git\u200c/config", "[core]\n")],
    "gitshort": [f("GIT~1/config", "[core]\n")],
}
rules = [CRITIC, PLANNER, KEEPER]
for d, files in hostile.items():
    rules.append({"match": {"system_contains": dom(d)},
                  "reply": {"chunk": 65536, "texts": [answer(d, files, "hostile"), good(d)]}})
# rawnul: the answer text itself holds a NUL character (the API's JSON then
# carries it as \u0000 inside the content string).
raw = answer("rawnul", [f("ok.txt\u0000/../../../escape-raw", "raw\n")], "hostile")
raw = raw.replace("\\u0000", "\u0000")
assert "\0" in raw
rules.append({"match": {"system_contains": dom("rawnul")},
              "reply": {"chunk": 65536, "texts": [raw, good("rawnul")]}})
write_rules(rules)
PY
keeper_config
start_masterd
DOMAINS="nul rawnul huge many longname pathmax clash dot empty deep dotgitsp dotgitzw gitshort"
ctl submit "hostile paths" --domains "$(echo $DOMAINS | tr ' ' ,),keeper" >/dev/null || fail submit

settled() {	# domain
	case "$(directive_states 1 "$1" Build)" in
	"['done']"|"['failed']"|"['dropped']") return 0 ;;
	esac
	return 1
}
for d in $DOMAINS; do
	wait_until "$d's directive to end" settled "$d"
done

# refusal DOMAIN: the reason the model was told, from the request log.
refusal() {
	python3 - "$LLMD_RECORD" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if "body" not in m:
        continue
    msgs = m["body"].get("messages") or []
    if not msgs or "# Your domain: " + sys.argv[2] + "\n" not in str(msgs[0].get("content")):
        continue
    last = msgs[-1].get("content")
    if isinstance(last, str) and last.startswith("Your answer could not be used"):
        print(last.split("\n")[0][:300])
        break
PY
}
ROOT=$(root_of 1)
# own_files DOMAIN: the files the domain's own commits touched.
own_files() {
	git_in 1 log --no-merges --author="^$1 <" --format= --name-only "$ROOT..domain/$1" | sort -u | grep . |
	    grep -v '/\.interface\.json$'	# the interface kept with the code
}
for d in nul huge many longname pathmax clash dot empty dotgitsp dotgitzw gitshort; do
	[ "$(directive_states 1 $d Build)" = "['done']" ] || fail "$d: $(directive_states 1 $d Build)"
	why=$(refusal $d)
	[ -n "$why" ] || fail "$d: the hostile answer was not refused back to the model"
	[ "$(own_files $d)" = "$d/good.txt" ] || fail "$d: committed $(own_files $d | head -5 | tr '\n' ' ')"
	ok "$d refused: $why"
done
# A raw NUL in the answer: refused back to the model, or the provider's
# response taken as unreadable and asked again; never applied.
[ "$(directive_states 1 rawnul Build)" = "['done']" ] || fail "rawnul: $(directive_states 1 rawnul Build)"
[ "$(own_files rawnul)" = "rawnul/good.txt" ] || fail "rawnul: committed $(own_files rawnul | head -5 | tr '\n' ' ')"
why=$(refusal rawnul)
[ -n "$why" ] || why="the provider's response was retried: $(grep -a 'masterd-worker/rawnul\[[0-9]*\] warning: llm: .*failed' "$T/masterd.log" | head -1 | sed 's/.*failed: //')"
ok "a raw NUL in the answer was not applied ($why)"

# 300 components: committed where named, or refused with a reason; and the
# domain works afterwards either way.
want="deep/$(python3 -c 'print("/".join(["d"] * 299))')/f.txt"
if [ "$(directive_states 1 deep Build)" != "['done']" ]; then
	known_bug "a path of 300 components passes the path checks (child/worker/path.c) and is written, but libgit2 cannot handle it (\"$(grep 'masterd-worker/deep\[' "$T/masterd.log" | grep -o 'directive [0-9]* failed: .*' | head -1)\"): the commit fails, the roll back fails the same way, and the directive ends $(directive_states 1 deep Build | tr -d "[]'") after its attempts"
elif git_in 1 ls-tree -r --name-only domain/deep | grep -qxF "$want"; then
	[ "$(git_in 1 show "domain/deep:$want")" = deep ] || fail "deep: wrong content"
	ok "a path of 300 components was committed where it was named"
else
	why=$(refusal deep)
	[ -n "$why" ] || fail "deep: neither committed nor refused"
	ok "a path of 300 components refused: $why"
fi
ctl directive deep "a plain change after the deep path" >/dev/null || fail "directive deep"
plain_settled() {
	case "$(directive_states 1 deep "a plain change")" in
	"['done']"|"['failed']"|"['dropped']") return 0 ;;
	esac
	return 1
}
wait_until "deep's next directive to end" plain_settled
if [ "$(directive_states 1 deep "a plain change")" != "['done']" ]; then
	known_bug "the deep path wedges the domain for good: its next directive ends $(directive_states 1 deep "a plain change" | tr -d "[]'") without asking the model ($(grep 'masterd-worker/deep\[' "$T/masterd.log" | grep -o 'directive [0-9]* failed: .*' | tail -1)): child/worker/work.c prepare_tree() cannot snapshot and clean the leftover tree (repo_snapshot_and_clean), so every later directive of the domain fails"
else
	ok "the domain works after the deep path"
fi
release_keeper

# Nothing outside the folders, no child crashed.
for d in $DOMAINS; do
	git_in 1 log --author="^$d <" --format= --name-only "$ROOT..domain/$d" |
	    grep -v "^$d/" | grep -q . && fail "domain/$d committed outside $d/"
done
find "$T" -name 'escape-*' | grep -q . && fail "a NUL path escaped"
[ "$(json_get "sum(d['restarts'] for d in r['domains'])" task 1)" = 0 ] || fail "a child restarted"
check_repo 1
ok "nothing outside the domain folders; no child crashed; fsck passes"
done_testing
