package sim

import "strings"

// route is one API method: METHOD and a path template below /api2/json.
type route struct {
	method   string
	template string
	parts    []string
	h        func(*Server, *req) (any, error)
	noAuth   bool
}

var routes []*route

func handle(method, template string, h func(*Server, *req) (any, error)) *route {
	r := &route{method: method, template: template, h: h}
	if template != "/" {
		r.parts = strings.Split(strings.TrimPrefix(template, "/"), "/")
	}
	routes = append(routes, r)
	return r
}

// matchRoute finds the route for method and path and its path variables.
func matchRoute(method, path string) (*route, map[string]string) {
	path = strings.TrimSuffix(path, "/")
	var parts []string
	if path != "" {
		parts = strings.Split(strings.TrimPrefix(path, "/"), "/")
	}
next:
	for _, r := range routes {
		if r.method != method {
			continue
		}
		ps := parts
		// A trailing {volume} takes the rest of the path: volume ids hold
		// a '/' (local:iso/x.iso), and PVE unescapes %2F before matching.
		if n := len(r.parts); n > 0 && r.parts[n-1] == "{volume}" && len(parts) > n {
			ps = append(append([]string(nil), parts[:n-1]...), strings.Join(parts[n-1:], "/"))
		}
		if len(r.parts) != len(ps) {
			continue
		}
		parts := ps
		var vars map[string]string
		for i, p := range r.parts {
			if strings.HasPrefix(p, "{") {
				if parts[i] == "" {
					continue next
				}
				if vars == nil {
					vars = map[string]string{}
				}
				vars[p[1:len(p)-1]] = parts[i]
				continue
			}
			if p != parts[i] {
				continue next
			}
		}
		return r, vars
	}
	return nil, nil
}

func dir(names ...string) func(*Server, *req) (any, error) {
	return func(*Server, *req) (any, error) {
		out := make([]map[string]string, len(names))
		for i, n := range names {
			out[i] = map[string]string{"subdir": n}
		}
		return out, nil
	}
}

func init() {
	handle("GET", "/", dir("version", "cluster", "nodes", "storage", "access", "pools"))
	handle("GET", "/version", hVersion)
	handle("GET", "/access", dir("users", "groups", "roles", "acl", "domains", "ticket", "password", "permissions"))
	handle("GET", "/access/ticket", hTicketGet).noAuth = true
	handle("POST", "/access/ticket", hTicketCreate).noAuth = true
	handle("GET", "/access/domains", hDomains).noAuth = true
	handle("GET", "/access/permissions", hPermissions)

	handle("GET", "/cluster", dir("log", "options", "resources", "status", "tasks", "nextid"))
	handle("GET", "/cluster/status", hClusterStatus)
	handle("GET", "/cluster/resources", hClusterResources)
	handle("GET", "/cluster/nextid", hNextID)
	handle("GET", "/cluster/tasks", hClusterTasks)

	handle("GET", "/nodes", hNodes)
	handle("GET", "/nodes/{node}", hNodeDir)
	handle("GET", "/nodes/{node}/status", hNodeStatus)
	handle("GET", "/nodes/{node}/version", hVersion)
	handle("GET", "/nodes/{node}/tasks", hNodeTasks)
	handle("GET", "/nodes/{node}/tasks/{upid}", dir("log", "status"))
	handle("GET", "/nodes/{node}/tasks/{upid}/status", hTaskStatus)
	handle("GET", "/nodes/{node}/tasks/{upid}/log", hTaskLog)
	handle("DELETE", "/nodes/{node}/tasks/{upid}", hTaskStop)
	handle("GET", "/nodes/{node}/network", hNodeNetwork)

	handle("GET", "/storage", hStorageList)
	handle("GET", "/storage/{storage}", hStorageGet)
	handle("GET", "/nodes/{node}/storage", hNodeStorage)
	handle("GET", "/nodes/{node}/storage/{storage}", dir("content", "status"))
	handle("GET", "/nodes/{node}/storage/{storage}/status", hNodeStorageStatus)
	handle("GET", "/nodes/{node}/storage/{storage}/content", hStorageContent)

	handle("GET", "/pools", hPoolsGet)
	handle("POST", "/pools", hPoolCreate)
	handle("PUT", "/pools", hPoolUpdate)
	handle("DELETE", "/pools", hPoolDelete)
	handle("GET", "/pools/{poolid}", hPoolGetOld)
	handle("PUT", "/pools/{poolid}", hPoolUpdate)
	handle("DELETE", "/pools/{poolid}", hPoolDelete)

	for _, typ := range []string{"qemu", "lxc"} {
		typ := typ
		b := "/nodes/{node}/" + typ
		g := func(h func(*Server, *req, string) (any, error)) func(*Server, *req) (any, error) {
			return func(s *Server, q *req) (any, error) { return h(s, q, typ) }
		}
		handle("GET", b, g(hGuestList))
		handle("POST", b, g(hGuestCreate))
		handle("GET", b+"/{vmid}", g(hGuestDir))
		handle("DELETE", b+"/{vmid}", g(hGuestDelete))
		handle("GET", b+"/{vmid}/config", g(hGuestConfigGet))
		handle("PUT", b+"/{vmid}/config", g(hGuestConfigPut))
		if typ == "qemu" {
			handle("POST", b+"/{vmid}/config", g(hGuestConfigPost))
			handle("GET", b+"/{vmid}/agent", dir("network-get-interfaces", "ping", "get-osinfo"))
			handle("GET", b+"/{vmid}/agent/network-get-interfaces", hAgentInterfaces)
			handle("POST", b+"/{vmid}/agent/ping", hAgentPing)
		} else {
			handle("GET", b+"/{vmid}/interfaces", hLXCInterfaces)
		}
		handle("GET", b+"/{vmid}/pending", g(hGuestPending))
		handle("GET", b+"/{vmid}/status", dir("current", "start", "stop", "shutdown", "reboot", "suspend", "resume"))
		handle("GET", b+"/{vmid}/status/current", g(hGuestStatus))
		for _, act := range []string{"start", "stop", "shutdown", "reboot", "suspend", "resume"} {
			act := act
			handle("POST", b+"/{vmid}/status/"+act, func(s *Server, q *req) (any, error) { return hGuestPower(s, q, typ, act) })
		}
		if typ == "qemu" {
			handle("POST", b+"/{vmid}/status/reset", func(s *Server, q *req) (any, error) { return hGuestPower(s, q, typ, "reset") })
		}
		handle("POST", b+"/{vmid}/clone", g(hGuestClone))
		handle("POST", b+"/{vmid}/template", g(hGuestTemplate))
		handle("PUT", b+"/{vmid}/resize", g(hGuestResize))
		handle("POST", b+"/{vmid}/migrate", g(hGuestMigrate))
		handle("GET", b+"/{vmid}/snapshot", g(hSnapList))
		handle("POST", b+"/{vmid}/snapshot", g(hSnapCreate))
		handle("GET", b+"/{vmid}/snapshot/{snapname}", dir("config", "rollback"))
		handle("GET", b+"/{vmid}/snapshot/{snapname}/config", g(hSnapConfig))
		handle("POST", b+"/{vmid}/snapshot/{snapname}/rollback", g(hSnapRollback))
		handle("DELETE", b+"/{vmid}/snapshot/{snapname}", g(hSnapDelete))
	}
}
