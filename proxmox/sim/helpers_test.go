package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reply is a decoded API response.
type reply struct {
	code   int
	status string // "500 VM is locked (clone)"
	raw    []byte
	body   map[string]any
}

func (r reply) data() any { return r.body["data"] }

func (r reply) dataMap(t *testing.T) map[string]any {
	t.Helper()
	m, ok := r.body["data"].(map[string]any)
	if !ok {
		t.Fatalf("data is %T, want object: %s", r.body["data"], r.raw)
	}
	return m
}

func (r reply) dataList(t *testing.T) []any {
	t.Helper()
	l, ok := r.body["data"].([]any)
	if !ok {
		t.Fatalf("data is %T, want array: %s", r.body["data"], r.raw)
	}
	return l
}

// api calls the fake with the root token. Bodies are form-encoded unless
// jsonBody is given.
type api struct {
	t     *testing.T
	s     *Server
	c     *http.Client
	token string
}

func newAPI(t *testing.T, s *Server) *api {
	return &api{t: t, s: s, c: s.HTTPClient(), token: s.Token()}
}

func (a *api) do(method, path string, form url.Values, jsonBody any, hdr map[string]string) reply {
	a.t.Helper()
	u := a.s.URL() + "/api2/json" + path
	var body io.Reader
	ctype := ""
	if jsonBody != nil {
		b, _ := json.Marshal(jsonBody)
		body, ctype = bytes.NewReader(b), "application/json"
	} else if form != nil {
		if method == "GET" || method == "DELETE" {
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			u += sep + form.Encode()
		} else {
			body, ctype = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
		}
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "PVEAPIToken="+a.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{code: resp.StatusCode, status: resp.Status, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			a.t.Fatalf("%s %s: body is not JSON: %v: %q", method, path, err, raw)
		}
	}
	return r
}

func (a *api) get(path string, q url.Values) reply {
	a.t.Helper()
	return a.do("GET", path, q, nil, nil)
}
func (a *api) post(path string, f url.Values) reply {
	a.t.Helper()
	return a.do("POST", path, f, nil, nil)
}
func (a *api) put(path string, f url.Values) reply {
	a.t.Helper()
	return a.do("PUT", path, f, nil, nil)
}
func (a *api) del(path string, q url.Values) reply {
	a.t.Helper()
	return a.do("DELETE", path, q, nil, nil)
}
func (a *api) postJSON(path string, body any) reply {
	a.t.Helper()
	return a.do("POST", path, nil, body, nil)
}

// ok fails the test unless r is a 200.
func ok(t *testing.T, r reply) reply {
	t.Helper()
	if r.code != 200 {
		t.Fatalf("status %q, body %s", r.status, r.raw)
	}
	return r
}

// wait polls a task to its end and returns its exit status.
func (a *api) wait(upid any) string {
	a.t.Helper()
	s, isStr := upid.(string)
	if !isStr {
		a.t.Fatalf("want a UPID string, got %T %v", upid, upid)
	}
	node := strings.Split(s, ":")[1]
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := ok(a.t, a.get("/nodes/"+node+"/tasks/"+url.PathEscape(s)+"/status", nil))
		m := r.dataMap(a.t)
		if m["status"] == "stopped" {
			return m["exitstatus"].(string)
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.t.Fatalf("task %s did not finish", s)
	return ""
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
