package apply

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/resource"
)

// TestLongLockFailsAtOnceWithAHint: a guest locked by a backup is not
// waited for (a backup outlasts any retry), and the failure says what to
// do, on the progress stream and in the record.
func TestLongLockFailsAtOnceWithAHint(t *testing.T) {
	for _, tc := range []struct {
		lock    string
		retries int
		hint    string
	}{
		{"backup", 0, "PVE holds the guest's lock (backup) for a task in progress: apply again once it is done (the node's task list shows it); a lock that no running task holds is cleared on pve1 with: qm unlock 100"},
		{"suspended", 0, "the VM is hibernated: start it (qm start 100 on pve1 resumes it), then apply again"},
		{"clone", 4, "PVE holds the guest's lock (clone) for a task in progress"},
	} {
		t.Run(tc.lock, func(t *testing.T) {
			f := newFake(time.Millisecond)
			f.guests[100] = &fakeGuest{kind: resource.KindVM, node: "pve1", name: "web", digest: "abc"}
			f.lockedBy = tc.lock
			p := &plan.Plan{Changes: []plan.Change{{
				Address: vmAddr("web"), Action: plan.ActionUpdate, Node: "pve1", VMID: 100, Digest: "abc",
				Ops: []plan.Op{{Kind: plan.OpConfig, Params: map[string]string{"memory": "4096"}, Digest: "abc"}},
			}}}
			var progress bytes.Buffer
			rec, err := Run(context.Background(), p, Options{Client: f, Retry: fastRetry(), Progress: &progress})
			if err != nil {
				t.Fatal(err)
			}
			c := rec.Changes[0]
			if c.Result != ResultFailed || len(c.Ops) != 1 || c.Ops[0].Retries != tc.retries {
				t.Fatalf("result %q, ops %+v; want failed after %d retries", c.Result, c.Ops, tc.retries)
			}
			if !strings.Contains(c.Error, "VM is locked ("+tc.lock+")\n"+tc.hint) {
				t.Errorf("record error = %q, want PVE's text and then %q", c.Error, tc.hint)
			}
			if !strings.Contains(progress.String(), "vm.web:   "+tc.hint) {
				t.Errorf("progress lacks the hint:\n%s", progress.String())
			}
		})
	}
}
