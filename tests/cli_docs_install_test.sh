#!/bin/sh
# The completion scripts and man pages that the build generates from corral's
# and herd's command tables: `cmake --install --component docs` puts them
# where bash-completion, zsh and man look; bash loads them and completes
# commands, subcommands and flags; man renders both pages. Nothing is left
# behind (a temporary prefix).
# Usage: tests/cli_docs_install_test.sh BUILD_DIR
set -eu
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" --component docs >/dev/null
for f in share/bash-completion/completions/corral share/bash-completion/completions/herd \
         share/zsh/site-functions/_corral share/zsh/site-functions/_herd \
         share/man/man8/corral.8 share/man/man1/herd.1; do
    [ -s "$prefix/$f" ] || fail "$f not installed"
done

# bash: the script defines the completion, and it completes.
complete_words() { # PROGRAM WORD... (the last word is the one being completed)
    prog=$1
    bash -c '
        source "$1"; shift
        complete -p "$1" >/dev/null || exit 3
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        "_${1}"
        printf "%s\n" "${COMPREPLY[@]}"' bash "$prefix/share/bash-completion/completions/$prog" "$@"
}
expect() { # WANT PROGRAM WORD...
    want=$1; shift
    got=$(complete_words "$@") || fail "completing '$*': bash failed"
    printf '%s\n' "$got" | grep -qx -- "$want" || fail "completing '$*': no '$want' in: $(echo $got)"
}
bash -c "source '$prefix/share/bash-completion/completions/corral'; complete -p corral" | grep -q "_corral corral" ||
    fail "complete -p corral"
expect create corral cr
expect image corral im
expect unpack corral image un
expect --bundle corral create --bu
expect --store corral image unpack --st
expect --root corral --ro
expect image corral help im
expect get herd g
expect port-forward herd port
expect --watch herd get --wa
expect pods herd get po
expect --stop herd serve --st
expect --namespace herd get pods --name
expect status herd rollout st

# zsh (scripts/deps test installs it): the scripts parse.
command -v zsh >/dev/null || fail "zsh is missing (scripts/deps test installs it)"
zsh -n "$prefix/share/zsh/site-functions/_corral" || fail "_corral does not parse"
zsh -n "$prefix/share/zsh/site-functions/_herd" || fail "_herd does not parse"

# man (scripts/deps test installs it): both pages render, without warnings,
# and hold what the tables hold.
command -v man >/dev/null || fail "man is missing (scripts/deps test installs man-db)"
for page in man8/corral.8 man1/herd.1; do
    text=$(MANWIDTH=100 man -l "$prefix/share/man/$page" 2>"$prefix/man.err") || fail "man -l $page"
    [ ! -s "$prefix/man.err" ] || fail "man -l $page warns: $(cat "$prefix/man.err")"
    case $page in
    *corral*) for w in "corral create" "corral image unpack" "--bundle" "--console-socket" "GLOBAL OPTIONS"; do
                  printf '%s' "$text" | grep -qF -- "$w" || fail "corral.8 lacks '$w'"
              done ;;
    *herd*) for w in "herd get" "--watch" "herd port-forward" "--stop" "custom-columns=SPEC" "HERD_STATE_DIR"; do
                printf '%s' "$text" | grep -qF -- "$w" || fail "herd.1 lacks '$w'"
            done ;;
    esac
done
echo "ok: completion scripts and man pages installed and working"
