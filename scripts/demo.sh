#!/usr/bin/env bash
# The pmpc tour, end to end against the embedded fake cluster (`pmpc sim`):
# init -> import -> edit -> plan -> apply -> history -> render.
# Usage: scripts/demo.sh [path/to/pmpc]
set -euo pipefail

PMPC=$(cd "$(dirname "${1:-bin/pmpc}")" && pwd)/$(basename "${1:-bin/pmpc}")
work=$(mktemp -d "${TMPDIR:-/tmp}/pmpc-demo.XXXXXX")
simpid=
cleanup() {
  [ -n "$simpid" ] && kill "$simpid" 2>/dev/null && wait "$simpid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-pmpc demo} GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-demo@example.com}

step "Start the fake Proxmox VE cluster (3 nodes, ~30 guests)"
"$PMPC" sim --listen 127.0.0.1:0 --preset homelab --task-duration 200ms >"$work/sim.out" 2>"$work/sim.err" &
simpid=$!
for _ in $(seq 1 100); do
  [ -s "$work/sim.out" ] && break
  sleep 0.1
done
head -1 "$work/sim.out" >&2
eval "$(head -1 "$work/sim.out")"

cd "$work"
step "Create a workspace"
run "$PMPC" init ws
cd ws
step "This tour adopts a live cluster, so drop init's example definition"
run git rm -q example.cue
run git commit -qm "Drop the example"

step "Adopt the live cluster: write a definition for every guest"
run "$PMPC" import --all
run git add -A
run git commit -qm "Import the cluster"

step "Plan: an imported cluster plans clean"
run "$PMPC" plan --detailed-exitcode

step "Edit: give web-01 more memory"
f=$(grep -l '"web-01"\|web-01:' vms/* | head -1)
sed -i 's/memory: *[0-9]*/memory: 8192/' "$f"
run git diff --stat
run git commit -qam "web-01: 8 GiB"

step "Plan the change"
set +e
run "$PMPC" plan --detailed-exitcode
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "expected exit 2 (changes present), got $rc" >&2; exit 1; }

step "Apply it"
run "$PMPC" apply --auto-approve

step "Plan again: clean"
run "$PMPC" plan --detailed-exitcode

step "History: the audit trail in git"
run "$PMPC" history
run git log --oneline pmpc/audit

step "Render the workspace for Terraform and Ansible"
run "$PMPC" render terraform --out rendered/terraform
run "$PMPC" render ansible --out rendered/ansible
ls rendered/* >&2

step "Done"
