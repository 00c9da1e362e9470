#!/usr/bin/env bash
# Offline plan benchmark: `pmpc plan --refresh=false` over N imported guests
# (one definition file each), cold (no definition cache) and warm, beside
# `cue vet` of the same files with pmpc's schema — the floor pmpc is measured
# against. Prints one line per measurement; used for BENCHMARKS.md.
# Usage: scripts/bench-offline-plan.sh [N] [runs]   (needs: make build; cue on PATH or CUE_BIN)
set -euo pipefail
n=${1:-10000}
runs=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
pmpc=$root/bin/pmpc
cue=${CUE_BIN:-$(command -v cue || true)}
[ -x "$pmpc" ] || { echo "run make build first" >&2; exit 1; }
[ -n "$cue" ] || { echo "cue CLI not found: GOBIN=/tmp/cuebin go install cuelang.org/go/cmd/cue@v0.17.1; CUE_BIN=/tmp/cuebin/cue" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill $simpid 2>/dev/null || true; rm -rf "$work"' EXIT
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
"$pmpc" sim --listen 127.0.0.1:0 --preset large --guests "$n" --workers 0 --task-duration 10ms >"$work/sim.env" 2>/dev/null &
simpid=$!
until [ -s "$work/sim.env" ]; do sleep 0.05; done
eval "$(head -1 "$work/sim.env")"
cd "$work"
"$pmpc" init ws >/dev/null
cd ws
git rm -q example.cue
"$pmpc" import --all >/dev/null
kill $simpid; simpid=
files=$(find vms containers pools -name '*.cue' | wc -l)
echo "workspace: $files definition files"

secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }
best() { local b=; for _ in $(seq "$runs"); do t=$("$@"); if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi; done; echo "$b"; }

# cue vet: the same files plus the schema, as one package.
mkdir -p "$work/vet"
{ echo "package infra"; cat "$root/schema/pmpc.cue"; } >"$work/vet/schema.cue"
find vms containers pools -name '*.cue' | while read -r f; do
  { echo "package infra"; cat "$f"; } >"$work/vet/$(echo "$f" | tr / _)"
done
vet() { (cd "$work/vet" && secs "$cue" vet -c .); }
cold() { rm -rf .pmpc/cache; secs "$pmpc" plan --refresh=false; }
warm() { secs "$pmpc" plan --refresh=false; }
v=$(best vet); c=$(best cold); w=$(best warm)
printf 'cue vet -c:                   %.2f s\n' "$v"
printf 'pmpc plan --refresh=false cold: %.2f s (%.2fx cue vet)\n' "$c" "$(echo "$c / $v" | bc -l)"
printf 'pmpc plan --refresh=false warm: %.2f s (%.2fx cue vet)\n' "$w" "$(echo "$w / $v" | bc -l)"
