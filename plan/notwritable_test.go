package plan

import (
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

// Raw lxc.* lines are not part of PVE's API: no token or user can set or
// delete them through it. A plan leaves them alone when the definition does
// not mention them, takes them as no change when it matches, and refuses
// to write them otherwise (apply would fail with a 400 from PVE).
func TestRawLXCLinesAreNeverWritten(t *testing.T) {
	const raw = "lxc.cgroup2.devices.allow: c 10:200 rwm\nlxc.mount.entry: /dev/net dev/net none bind,create=dir"
	live := func() *resource.Cluster {
		cfg := dnsCfg()
		cfg["lxc"] = raw
		return cluster(guest(resource.KindContainer, 200, "dns", "running", "pmpc", cfg))
	}
	tests := []struct {
		name    string
		extra   map[string]string
		observe *resource.Cluster
		wantErr bool
	}{
		{name: "left out of the definition", observe: live()},
		{name: "imported as they are", extra: map[string]string{"lxc": raw}, observe: live()},
		{name: "changed", extra: map[string]string{"lxc": "lxc.apparmor.profile: unconfined"}, observe: live(), wantErr: true},
		{name: "at create", extra: map[string]string{"lxc": raw}, observe: cluster(), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := dnsCT()
			ct.Extra = tc.extra
			p := makePlan(t, testCase{desired: set(func(s *resource.Set) { s.Containers["dns"] = ct }), observed: tc.observe})
			if got := hasError(p, "raw lxc.* lines cannot be set through the PVE API"); got != tc.wantErr {
				t.Fatalf("error %v, want %v: %v", got, tc.wantErr, p.Errors)
			}
			for _, c := range p.Changes {
				for _, op := range c.Ops {
					if _, set := op.Params["lxc"]; set || len(op.Delete) > 0 {
						t.Errorf("%s: op %s writes lxc: %+v", c.Address, op.Kind, op)
					}
				}
			}
			if !tc.wantErr && len(p.Changes) != 0 {
				t.Errorf("want no change, got %+v", p.Changes)
			}
		})
	}
}
