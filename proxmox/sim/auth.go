package sim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// allPrivs are the privileges a full-privilege principal holds.
var allPrivs = []string{
	"Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit",
	"Group.Allocate", "Mapping.Audit", "Mapping.Modify", "Mapping.Use", "Permissions.Modify",
	"Pool.Allocate", "Pool.Audit", "Realm.Allocate", "Realm.AllocateUser", "SDN.Allocate", "SDN.Audit",
	"SDN.Use", "Sys.AccessNetwork", "Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify",
	"Sys.PowerMgmt", "Sys.Syslog", "User.Modify", "VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone",
	"VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType",
	"VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Console", "VM.GuestAgent.Audit",
	"VM.Migrate", "VM.PowerMgmt", "VM.Snapshot", "VM.Snapshot.Rollback",
}

// principal is an authenticated caller: a token or a ticket holder.
type principal struct {
	user    string // root@pam
	tokenid string // pmpc, or "" for a ticket
	// acl maps an ACL path to the privileges granted there (propagated to
	// everything below it). nil means every privilege everywhere.
	acl map[string][]string
}

// full is the task user: user!tokenid for tokens.
func (p *principal) full() string {
	if p.tokenid != "" {
		return p.user + "!" + p.tokenid
	}
	return p.user
}

// can reports whether p holds priv on path or one of its ancestors.
func (p *principal) can(path, priv string) bool {
	if p.acl == nil {
		return true
	}
	for {
		for _, x := range p.acl[path] {
			if x == priv {
				return true
			}
		}
		if path == "/" {
			return false
		}
		i := strings.LastIndex(path, "/")
		if i <= 0 {
			path = "/"
		} else {
			path = path[:i]
		}
	}
}

// require returns PVE's 403 unless p holds priv on path.
func (p *principal) require(path, priv string) error {
	if p.can(path, priv) {
		return nil
	}
	return errf(403, "Permission check failed (%s, %s)", path, priv)
}

// requireAny returns the 403 for the first of privs unless p holds one.
func (p *principal) requireAny(path string, privs ...string) error {
	for _, x := range privs {
		if p.can(path, x) {
			return nil
		}
	}
	return errf(403, "Permission check failed (%s, %s)", path, strings.Join(privs, "|"))
}

type token struct {
	secret string
	acl    map[string][]string
}

type ticket struct {
	user string
	csrf string
	exp  time.Time
}

var reTokenID = regexp.MustCompile(`^([^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)$`)

// AddToken adds an API token with the given ACL (path → privileges,
// propagated downwards; nil = every privilege) and returns the full token
// "user@realm!id=secret". Use it to test permission errors.
func (s *Server) AddToken(tokenID string, acl map[string][]string) (string, error) {
	if !reTokenID.MatchString(tokenID) {
		return "", fmt.Errorf("sim: add token %q: want user@realm!tokenid", tokenID)
	}
	secret := newUUID()
	s.mu.Lock()
	s.c.addToken(tokenID, secret, acl)
	s.mu.Unlock()
	return tokenID + "=" + secret, nil
}

// authenticate checks the ticket cookie (first) or the API token. It returns
// nil and the 401 reason on failure.
func (s *Server) authenticate(r *http.Request) (*principal, string) {
	authz := r.Header.Get("Authorization")
	var tick string
	if ck, err := r.Cookie("PVEAuthCookie"); err == nil {
		tick = ck.Value
	} else if strings.HasPrefix(authz, "PVEAuthCookie=") {
		tick = strings.TrimPrefix(authz, "PVEAuthCookie=")
	}
	if tick != "" {
		if t, err := url.PathUnescape(tick); err == nil {
			tick = t
		}
		s.mu.Lock()
		t, ok := s.c.tickets[tick]
		s.mu.Unlock()
		if !ok || time.Now().After(t.exp) {
			return nil, "Authentication failed!"
		}
		if r.Method != "GET" && r.Header.Get("CSRFPreventionToken") != t.csrf {
			return nil, "Permission denied - invalid csrf token"
		}
		return &principal{user: t.user}, ""
	}
	i := strings.Index(authz, "PVEAPIToken")
	if i < 0 {
		return nil, "No ticket"
	}
	rest := authz[i+len("PVEAPIToken"):]
	if rest == "" || (rest[0] != '=' && rest[0] != ' ') {
		return nil, "No ticket"
	}
	rest = rest[1:]
	rest, _, _ = strings.Cut(rest, ";")
	if u, err := url.PathUnescape(rest); err == nil {
		rest = u
	}
	j := strings.LastIndex(rest, "=")
	if j < 0 {
		return nil, "Authentication failed!"
	}
	id, secret := strings.TrimSpace(rest[:j]), rest[j+1:]
	m := reTokenID.FindStringSubmatch(id)
	if m == nil {
		return nil, "Authentication failed!"
	}
	s.mu.Lock()
	tok, ok := s.c.tokens[id]
	s.mu.Unlock()
	if !ok || !hmac.Equal([]byte(tok.secret), []byte(secret)) {
		return nil, "Authentication failed!"
	}
	return &principal{user: m[1], tokenid: m[2], acl: tok.acl}, ""
}

func (s *Server) sign(text string) string {
	m := hmac.New(sha256.New, []byte(s.opts.TokenSecret))
	m.Write([]byte(text))
	return base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

// POST /access/ticket
func hTicketCreate(s *Server, q *req) (any, error) {
	user := q.params["username"]
	if realm := q.params["realm"]; realm != "" && !strings.Contains(user, "@") {
		user += "@" + realm
	}
	pass := q.params["password"]
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := false
	if user == "root@pam" && pass == s.opts.Password {
		ok = true
	} else if t, found := s.c.tickets[pass]; found && t.user == user && time.Now().Before(t.exp) {
		ok = true // ticket renewal: the old ticket as the password
	}
	if !ok {
		return nil, errf(401, "authentication failure")
	}
	now := time.Now()
	stamp := fmt.Sprintf("%08X", now.Unix())
	tick := fmt.Sprintf("PVE:%s:%s::%s", user, stamp, s.sign("ticket:"+user+":"+stamp+":"+newUUID()))
	csrf := stamp + ":" + s.sign("csrf:"+tick)
	s.c.tickets[tick] = &ticket{user: user, csrf: csrf, exp: now.Add(2 * time.Hour)}
	caps := map[string]map[string]int{}
	for _, group := range []string{"vms", "storage", "access", "nodes", "dc", "sdn", "mapping"} {
		caps[group] = map[string]int{}
	}
	for _, p := range allPrivs {
		switch {
		case strings.HasPrefix(p, "VM."):
			caps["vms"][p] = 1
		case strings.HasPrefix(p, "Datastore."):
			caps["storage"][p] = 1
		case strings.HasPrefix(p, "User.") || strings.HasPrefix(p, "Group.") || strings.HasPrefix(p, "Realm.") || p == "Permissions.Modify":
			caps["access"][p] = 1
		case strings.HasPrefix(p, "Sys."):
			caps["nodes"][p] = 1
		case strings.HasPrefix(p, "SDN."):
			caps["sdn"][p] = 1
		case strings.HasPrefix(p, "Mapping."):
			caps["mapping"][p] = 1
		default:
			caps["dc"][p] = 1
		}
	}
	res := map[string]any{"username": user, "ticket": tick, "CSRFPreventionToken": csrf, "cap": caps}
	if len(s.c.nodes) > 1 {
		res["clustername"] = s.c.name
	}
	return res, nil
}

// GET /access/ticket returns null (it exists so that clients can probe).
func hTicketGet(*Server, *req) (any, error) { return nil, nil }

// GET /access/domains
func hDomains(*Server, *req) (any, error) {
	return []map[string]any{
		{"realm": "pam", "type": "pam", "comment": "Linux PAM standard authentication"},
		{"realm": "pve", "type": "pve", "comment": "Proxmox VE authentication server"},
	}, nil
}

// GET /access/permissions: path → {privilege: 1} for the caller (or for
// path only, with ?path=).
func hPermissions(s *Server, q *req) (any, error) {
	out := map[string]map[string]int{}
	add := func(path string, privs []string) {
		m := out[path]
		if m == nil {
			m = map[string]int{}
			out[path] = m
		}
		for _, p := range privs {
			m[p] = 1
		}
	}
	if q.who.acl == nil {
		for _, p := range []string{"/", "/access", "/nodes", "/pool", "/sdn", "/storage", "/vms"} {
			add(p, allPrivs)
		}
	} else {
		paths := make([]string, 0, len(q.who.acl))
		for p := range q.who.acl {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			add(p, q.who.acl[p])
		}
	}
	if want := q.params["path"]; want != "" {
		m := map[string]int{}
		for _, p := range allPrivs {
			if q.who.can(want, p) {
				m[p] = 1
			}
		}
		return map[string]map[string]int{want: m}, nil
	}
	return out, nil
}
