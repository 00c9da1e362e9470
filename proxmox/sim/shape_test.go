package sim

import (
	"encoding/json"
	"math"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

type shapeCase struct {
	Path     string            `json:"path"`
	Kind     string            `json:"kind"`
	Required map[string]string `json:"required"`
	Optional map[string]string `json:"optional"`
	Open     bool              `json:"open"`
	Total    bool              `json:"total"`
}

func jsonType(v any) string {
	switch x := v.(type) {
	case string:
		return "string"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "?"
}

func typeOK(want, got string) bool {
	return want == "any" || want == got || (want == "number" && got == "integer")
}

func checkShape(t *testing.T, name string, c shapeCase, obj map[string]any) {
	t.Helper()
	for k, want := range c.Required {
		v, ok := obj[k]
		if !ok {
			t.Errorf("%s: missing key %q in %v", name, k, keys(obj))
			continue
		}
		if got := jsonType(v); !typeOK(want, got) {
			t.Errorf("%s: %s is %s (%v), want %s", name, k, got, v, want)
		}
	}
	for k, v := range obj {
		if _, ok := c.Required[k]; ok {
			continue
		}
		want, ok := c.Optional[k]
		if !ok {
			if !c.Open {
				t.Errorf("%s: unexpected key %q = %v", name, k, v)
			}
			continue
		}
		if got := jsonType(v); !typeOK(want, got) {
			t.Errorf("%s: %s is %s (%v), want %s", name, k, got, v, want)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestShapes checks every endpoint's keys and JSON types against
// testdata/shapes.json, written from pve-api.md.
func TestShapes(t *testing.T) {
	raw, err := os.ReadFile("testdata/shapes.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	s := Test(t, Options{Seed: Homelab()})
	a := newAPI(t, s)
	// A finished task for the task endpoints, and a pending change on a
	// running VM for /pending.
	upid := ok(t, a.post("/nodes/pve2/qemu/109/status/start", nil)).data().(string)
	if st := a.wait(upid); st != "OK" {
		t.Fatalf("start 109: %s", st)
	}
	ok(t, a.put("/nodes/pve1/qemu/101/config", form("cores", "4", "delete", "nameserver")))

	names := make([]string, 0, len(cases))
	for n := range cases {
		if !strings.HasPrefix(n, "_") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		var c shapeCase
		if err := json.Unmarshal(cases[name], &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := strings.ReplaceAll(c.Path, "{upid}", url.PathEscape(upid))
		p, query, _ := strings.Cut(path, "?")
		qv, _ := url.ParseQuery(query)
		r := a.get(p, qv)
		if r.code != 200 {
			t.Errorf("%s: GET %s: %s %s", name, path, r.status, r.raw)
			continue
		}
		if _, ok := r.body["total"]; ok != c.Total {
			t.Errorf("%s: top-level total present = %v, want %v", name, ok, c.Total)
		}
		switch c.Kind {
		case "string":
			if _, isStr := r.data().(string); !isStr {
				t.Errorf("%s: data is %s, want string", name, jsonType(r.data()))
			}
		case "object":
			checkShape(t, name, c, r.dataMap(t))
		case "list":
			list := r.dataList(t)
			if len(list) == 0 {
				t.Errorf("%s: empty list", name)
			}
			for i, e := range list {
				m, isObj := e.(map[string]any)
				if !isObj {
					t.Errorf("%s[%d]: %s, want object", name, i, jsonType(e))
					continue
				}
				checkShape(t, name, c, m)
			}
		default:
			t.Fatalf("%s: unknown kind %q", name, c.Kind)
		}
	}
}

// TestTicketShape checks POST /access/ticket's reply, which needs a body.
func TestTicketShape(t *testing.T) {
	s := Test(t, Options{Seed: Homelab()})
	a := newAPI(t, s)
	a.token = ""
	r := ok(t, a.post("/access/ticket", form("username", "root@pam", "password", "pmpc-sim")))
	checkShape(t, "ticket", shapeCase{Required: map[string]string{"username": "string", "ticket": "string",
		"CSRFPreventionToken": "string", "cap": "object", "clustername": "string"}}, r.dataMap(t))
	m := r.dataMap(t)
	if !strings.HasPrefix(m["ticket"].(string), "PVE:root@pam:") {
		t.Errorf("ticket = %v", m["ticket"])
	}
	for group, privs := range m["cap"].(map[string]any) {
		for p, v := range privs.(map[string]any) {
			if v != float64(1) {
				t.Errorf("cap.%s.%s = %v, want 1", group, p, v)
			}
		}
	}
}

// TestUPIDFormat checks the UPID layout clients split on.
func TestUPIDFormat(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: time.Millisecond})
	a := newAPI(t, s)
	upid := ok(t, a.post("/nodes/pve2/qemu/109/status/start", nil)).data().(string)
	if !reUPID.MatchString(upid) {
		t.Fatalf("UPID %q does not match PVE's parser", upid)
	}
	f := strings.Split(upid, ":")
	if len(f) != 9 || f[8] != "" || f[1] != "pve2" || f[5] != "qmstart" || f[6] != "109" || f[7] != "root@pam!pmpc" {
		t.Errorf("UPID fields %q", f)
	}
	for _, h := range f[2:5] {
		if len(h) != 8 || strings.ToUpper(h) != h {
			t.Errorf("hex field %q is not 8 uppercase digits", h)
		}
	}
	a.wait(upid)
	st := ok(t, a.get("/nodes/pve2/tasks/"+upid+"/status", nil)).dataMap(t)
	if st["user"] != "root@pam" || st["tokenid"] != "pmpc" || st["exitstatus"] != "OK" {
		t.Errorf("task status = %v", st)
	}
	log := ok(t, a.get("/nodes/pve2/tasks/"+upid+"/log", nil))
	lines := log.dataList(t)
	last := lines[len(lines)-1].(map[string]any)
	if last["t"] != "TASK OK" || log.body["total"] != float64(len(lines)) {
		t.Errorf("log = %s", log.raw)
	}
}
