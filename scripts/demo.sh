#!/usr/bin/env bash
# The pmpc tour, end to end against the embedded fake cluster (`pmpc sim`):
# init -> import -> edit -> plan -> apply -> history -> render.
# It runs the README's tour block exactly as written, printing each line
# before it runs, in a temporary directory that is removed afterwards.
# Usage: scripts/demo.sh [path/to/pmpc]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pmpc=${1:-bin/pmpc}
case $pmpc in /*) ;; *) pmpc=$root/$pmpc ;; esac
[ -x "$pmpc" ] || { echo "demo: $pmpc not found; run make build first" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pmpc-demo.XXXXXX")
bin=$work/.bin
mkdir -p "$bin"
ln -s "$pmpc" "$bin/pmpc"
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$work"' EXIT

# The block after "<!-- tour -->" in README.md.
tour=$(awk '/^<!-- tour -->$/ {found=1; next} found && /^```sh$/ {inblock=1; next} inblock && /^```$/ {exit} inblock {print}' "$root/README.md")
[ -n "$tour" ] || { echo "demo: README.md has no tour block" >&2; exit 1; }

export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-pmpc demo} GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-demo@example.com}
export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-pmpc demo} GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-demo@example.com}
cd "$work"
start=$(date +%s)
PATH="$bin:$PATH" bash -euo pipefail -v -c "$tour"
echo
echo "demo: the tour passed in $(( $(date +%s) - start ))s"
