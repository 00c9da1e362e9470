package plan

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pmpc-dev/pmpc/resource"
)

func TestWriteReadRoundTrip(t *testing.T) {
	for _, tc := range corpus() {
		p := makePlan(t, tc)
		p.WorkspaceCommit, p.Dirty, p.SnapshotRevision = "0123456789abcdef0123456789abcdef01234567", true, 42
		var buf bytes.Buffer
		if err := Write(&buf, p); err != nil {
			t.Fatal(err)
		}
		got, err := Read(&buf)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d := cmp.Diff(p, got); d != "" {
			t.Errorf("%s: plan changed through a file (-wrote +read):\n%s", tc.name, d)
		}
	}
}

func TestReadRejectsOtherVersions(t *testing.T) {
	if _, err := Read(strings.NewReader(`{"format_version":"99","changes":[]}`)); err == nil {
		t.Error("want an error for an unknown format version")
	}
}

func TestCheckStale(t *testing.T) {
	tc := caseNamed(t, "update_live")
	p := makePlan(t, tc)
	if s := CheckStale(p, tc.observed); len(s) != 0 {
		t.Fatalf("fresh plan reported stale: %v", s)
	}
	edited := *tc.observed
	edited.Guests = []resource.Guest{tc.observed.Guests[0]}
	edited.Guests[0].Digest = "ffffffffffffffffffffffffffffffffffffffff"
	s := CheckStale(p, &edited)
	if len(s) != 1 || s[0].VMID != 100 || !strings.Contains(s[0].String(), "config changed") {
		t.Errorf("digest change: %v", s)
	}
	if s := CheckStale(p, &resource.Cluster{}); len(s) != 1 || !strings.Contains(s[0].Reason, "gone") {
		t.Errorf("guest gone: %v", s)
	}

	ct := caseNamed(t, "create")
	cp := makePlan(t, ct)
	taken := cluster(guest(resource.KindVM, 200, "intruder", "running", "", nil))
	s = CheckStale(cp, taken)
	if len(s) != 1 || s[0].Address.String() != "container.dns" || !strings.Contains(s[0].Reason, "vmid 200 is now taken") {
		t.Errorf("pinned vmid taken: %v", s)
	}
	taken = cluster(guest(resource.KindVM, 300, "web-01", "running", "pmpc", nil))
	taken.Pools = []resource.ObservedPool{{ID: "prod"}}
	s = CheckStale(cp, taken)
	if len(s) != 2 || !strings.Contains(s[0].Reason, "pool was created") || !strings.Contains(s[1].Reason, "named \"web-01\" now exists") {
		t.Errorf("name and pool taken: %v", s)
	}
}
