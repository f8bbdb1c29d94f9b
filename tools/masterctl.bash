# bash completion for masterctl(1)                         -*- shell-script -*-
#
# Installed by `make install` as .../bash-completion/completions/masterctl.
# Completes the global options, the commands, each command's options, files
# for --directives and backup, the limits of --budget and budget, and task
# IDs and domain names by asking the running masterd (read-only `tasks` and
# `domains` requests, one second at most, silently nothing when masterd is
# not there).

# Ask masterd, through the socket the command line names, if any.
_masterctl_query()
{
    local sock=$1
    shift
    local -a argv=(masterctl --json)
    [[ -n $sock ]] && argv+=(-s "$sock")
    if type -P timeout >/dev/null 2>&1; then
        timeout 1 "${argv[@]}" "$@" 2>/dev/null </dev/null
    else
        "${argv[@]}" "$@" 2>/dev/null </dev/null
    fi
}

_masterctl_tasks()
{
    _masterctl_query "$1" tasks |
        sed -n 's/^      "id": \([0-9][0-9]*\),\{0,1\}$/\1/p'
}

_masterctl_domains()
{
    _masterctl_query "$1" domains |
        sed -n 's/^ *"name": "\([a-z][a-z0-9_-]*\)",\{0,1\}$/\1/p' | sort -u
}

# KEY= for each budget limit not named yet in $1 (the line so far).
_masterctl_limit_keys()
{
    local k
    for k in tokens cost rounds time; do
        [[ $1 == *"$k="* ]] || printf '%s=\n' "$k"
    done
}

_masterctl()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local commands="submit status tasks task domains interface interfaces
        directive spawn restart pause resume cancel watch budget transcript
        export push questions answer deadline approve reject backup prune
        reload
        metrics stop help"
    local global_opts="-s --socket --json -j -h --help -v --verbose -V
        --version --no-pager"

    # Find the command and the socket among the words before the cursor.
    # bash splits "--socket=PATH" into "--socket" "=" "PATH".
    local i cmd='' cmd_at=0 sock=''
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -s | --socket)
                if [[ ${words[i+1]} == = ]]; then
                    ((i++))
                fi
                sock=${words[i+1]}
                ((i++))
                ;;
            --socket=*)
                sock=${words[i]#--socket=}
                ;;
            -*) ;;
            *)
                cmd=${words[i]}
                cmd_at=$i
                break
                ;;
        esac
    done

    if [[ -z $cmd ]]; then
        [[ $prev == = && $cword -ge 2 ]] && prev=${words[cword-2]}
        case $prev in
            -s | --socket)
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                return
                ;;
        esac
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$global_opts" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
        fi
        return
    fi

    # Budget limits (submit --budget L, budget TASK L...): KEY=N[,KEY=N],
    # which bash splits at each '='.  Work on the line's blank-separated
    # words instead, and complete the key after the last comma.
    local line=${COMP_LINE:0:${COMP_POINT:-${#COMP_LINE}}}
    local -a lw=()
    read -ra lw <<<"$line"
    [[ -z $line || $line == *[[:space:]] ]] && lw+=("")
    local lcur=${lw[${#lw[@]}-1]} lprev=${lw[${#lw[@]}-2]:-} limits=''
    if [[ $lprev == --budget && $cmd == submit ]]; then
        limits=1
    elif [[ $cmd == budget ]]; then
        local j ci=0
        for ((j = 1; j < ${#lw[@]}; j++)); do
            [[ ${lw[j]} == budget ]] && { ci=$j; break; }
        done
        ((ci > 0 && ${#lw[@]} - 1 - ci >= 2)) && limits=1
    fi
    if [[ -n $limits ]]; then
        local seg=${lcur##*,}
        if [[ $seg != *=* ]]; then
            local head=${cur%"$seg"}
            mapfile -t COMPREPLY < <(compgen -P "$head" \
                -W "$(_masterctl_limit_keys "${line%"$seg"}")" -- "$seg")
            compopt -o nospace 2>/dev/null
        fi
        return
    fi

    # Values of the command's options.
    case $prev in
        --directives)
            # a file of directives, or - for standard input
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            [[ - == "$cur"* ]] && COMPREPLY+=(-)
            return
            ;;
        --task)
            mapfile -t COMPREPLY < <(compgen -W "$(_masterctl_tasks "$sock")" -- "$cur")
            return
            ;;
        --repo | --to)
            # a repository: a directory here, or a URL
            compopt -o dirnames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return
            ;;
        --domains | --prompt | --priority | --last | --diff | --branch)
            # free text: a list of new names, a prompt, a number, a version
            return
            ;;
    esac

    local opts=''
    case $cmd in
        submit) opts="--domains --directives --budget --wait --repo --branch" ;;
        push) opts="--to --branch" ;;
        task) opts="--rounds --all" ;;
        watch) opts="--tail --since" ;;
        prune) opts="--finished" ;;
        interfaces) opts="--task --graph --graph=dot --dot" ;;
        domains | restart | pause | resume) opts="--task" ;;
        interface) opts="--task --diff" ;;
        directive) opts="--task --priority" ;;
        spawn) opts="--prompt" ;;
        transcript) opts="--task --last" ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
        return
    fi

    # Which positional argument is being typed: skip options and their
    # values.
    local n=0
    for ((i = cmd_at + 1; i < cword; i++)); do
        case ${words[i]} in
            --wait) ;;
            --*) ((i++)) ;;
            *) ((n++)) ;;
        esac
    done

    case $cmd:$n in
        task:0 | cancel:0 | pause:0 | resume:0 | watch:0 | domains:0 | \
        interfaces:0 | spawn:0 | budget:0 | export:0 | push:0 | \
        questions:0 | approve:0 | reject:0)
            mapfile -t COMPREPLY < <(compgen -W "$(_masterctl_tasks "$sock")" -- "$cur")
            ;;
        interface:0 | directive:0 | restart:0 | transcript:0)
            mapfile -t COMPREPLY < <(compgen -W "$(_masterctl_domains "$sock")" -- "$cur")
            ;;
        deadline:1)
            mapfile -t COMPREPLY < <(compgen -W "now none 30m 1h" -- "$cur")
            ;;
        export:1)
            # a new or empty directory
            compopt -o dirnames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            ;;
        backup:0)
            # the file to write
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            ;;
        submit:* | directive:1 | spawn:1 | interface:*)
            # free text, a new domain name or a version number
            ;;
    esac
} &&
    complete -F _masterctl masterctl

# ex: filetype=sh
