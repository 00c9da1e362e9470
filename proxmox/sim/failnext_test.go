package sim

import "testing"

// TestFailNextTaskLogLines: an injected failure of several lines logs the
// lines before the last as the task's output and fails with the last, so a
// client sees the log tail a real failed worker leaves.
func TestFailNextTaskLogLines(t *testing.T) {
	s := Test(t, Options{Seed: Empty()})
	a := newAPI(t, s)
	s.FailNextTask("qmcreate", "  Rounding up size to full physical extent 32.00 GiB\nunable to create VM 400 - out of space")
	upid := ok(t, a.post("/nodes/pve1/qemu", form("vmid", "400", "scsi0", "local-lvm:4"))).data()
	if st := a.wait(upid); st != "unable to create VM 400 - out of space" {
		t.Errorf("exit status %q, want the last line", st)
	}
	var got []string
	for _, l := range ok(t, a.get("/nodes/pve1/tasks/"+upid.(string)+"/log", nil)).dataList(t) {
		got = append(got, l.(map[string]any)["t"].(string))
	}
	want := []string{"  Rounding up size to full physical extent 32.00 GiB", "TASK ERROR: unable to create VM 400 - out of space"}
	if len(got) < 2 || got[len(got)-2] != want[0] || got[len(got)-1] != want[1] {
		t.Errorf("task log = %q, want it to end with %q", got, want)
	}
}
