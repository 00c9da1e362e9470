package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/schema"
	"github.com/pmpc-dev/pmpc/snapshot"
	"github.com/pmpc-dev/pmpc/workspace"
)

func init() { register(newDoctorCmd) }

// neededPrivs are the privileges pmpc's token needs on "/" to read the
// cluster, create, change, start, stop, clone and migrate guests, allocate
// disks, manage pools and attach NICs.
var neededPrivs = []string{
	"Datastore.AllocateSpace", "Datastore.Audit",
	"Pool.Allocate", "Pool.Audit",
	"SDN.Use", "Sys.Audit",
	"VM.Allocate", "VM.Audit", "VM.Clone",
	"VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk",
	"VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options",
	"VM.Migrate", "VM.PowerMgmt",
}

// maxClockSkew is the clock difference above which doctor warns: tickets
// and task times are compared across machines.
const maxClockSkew = 30 * time.Second

// doctorNow is the local clock doctor compares the server's with; tests
// move it.
var doctorNow = time.Now

type doctorOptions struct {
	timeout time.Duration
}

func newDoctorCmd(g *globals) *cobra.Command {
	o := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the connection, credentials, privileges and workspace",
		Long: `Doctor checks everything pmpc depends on and prints one line per check,
with the fix under each failing one:

  ok    authentication: token ci@pve!pmpc accepted
  FAIL  privileges: token ci@pve!pmpc lacks 1 of the privileges pmpc needs on /: VM.Clone
        grant them with a role (as root on a PVE node; ...):
          pveum role add PMPC --privs "Datastore.AllocateSpace,..."
          pveum acl modify / --roles PMPC --tokens 'ci@pve!pmpc'

The checks are:

  connection      the endpoint answers (PMPC_ENDPOINT or cluster.endpoint)
  tls             the certificate is trusted: pinned fingerprint, CA file or
                  system CAs; else the fingerprint it presented and the
                  export PMPC_TLS_FINGERPRINT=... line that pins it
  authentication  the API token (or user and password) is accepted
  privileges      the token holds every privilege pmpc needs on /:
                  VM.Audit, VM.Allocate, VM.Config.*, VM.PowerMgmt, VM.Clone,
                  VM.Migrate, Datastore.AllocateSpace, Datastore.Audit,
                  Pool.Audit, Pool.Allocate, SDN.Use, Sys.Audit; else the
                  pveum commands that grant them
  version         Proxmox VE 8.x or 9.x
  clock           the server's clock is within 30s of this machine's
                  (tickets and task times depend on it; a warning)
  workspace       pmpc.cue and every definition load (count shown)
  snapshot        the snapshot in .pmpc/ opens; age of its latest revision

Outside a workspace the workspace and snapshot checks are skipped. Doctor
changes nothing on the cluster and creates no snapshot. Warnings do not
fail it. No credentials are sent to a server whose certificate fails.

Examples:
  # Check the setup from the workspace directory
  pmpc doctor

  # Check another workspace, with more time for a slow link
  pmpc -C infra doctor --timeout 30s

  # Try it against the fake cluster: run pmpc sim in another terminal,
  # paste the export line it prints, then
  pmpc doctor

Doctor exits 0 when no check failed (warnings allowed) and 1 when one did.
` + exitCodeHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDoctor(cmd.Context(), g, o)
		},
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", 10*time.Second, "time allowed for each check that talks to the cluster")
	return cmd
}

// doctorReport prints checks as they finish and remembers failures.
type doctorReport struct {
	w              io.Writer
	failed, warned int
}

func (r *doctorReport) line(status, name, detail string, fix ...string) {
	fmt.Fprintf(r.w, "%-4s  %s: %s\n", status, name, detail)
	for _, f := range fix {
		for _, l := range strings.Split(f, "\n") {
			fmt.Fprintf(r.w, "      %s\n", l)
		}
	}
	switch status {
	case "FAIL":
		r.failed++
	case "warn":
		r.warned++
	}
}

func (r *doctorReport) ok(name, detail string)                  { r.line("ok", name, detail) }
func (r *doctorReport) warn(name, detail string, fix ...string) { r.line("warn", name, detail, fix...) }
func (r *doctorReport) fail(name, detail string, fix ...string) { r.line("FAIL", name, detail, fix...) }
func (r *doctorReport) skip(name, detail string)                { r.line("skip", name, detail) }

func runDoctor(ctx context.Context, g *globals, o *doctorOptions) error {
	r := &doctorReport{w: g.stdout}
	if o.timeout <= 0 {
		o.timeout = 10 * time.Second
	}

	// The workspace is found first (quietly) because pmpc.cue may hold the
	// connection settings; it is reported last.
	dir, err := g.workspaceDir()
	if err != nil {
		return err
	}
	ws, wsErr := workspace.Find(dir)

	base := proxmox.Config{}
	var tokenRefErr error
	if ws != nil {
		base = planConnConfig(ws)
		_, tokenRefErr = clusterToken(ws)
	}
	doctorCluster(ctx, g, o, r, base, tokenRefErr)
	doctorWorkspace(g, r, ws, wsErr)

	switch {
	case r.failed > 0:
		fmt.Fprintf(g.stdout, "\n%d %s failed\n", r.failed, plural(r.failed, "check", "checks"))
		return withCode(exitError, nil)
	case r.warned > 0:
		fmt.Fprintf(g.stdout, "\nno check failed; %d %s\n", r.warned, plural(r.warned, "warning", "warnings"))
	default:
		fmt.Fprintln(g.stdout, "\nall checks passed")
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// doctorCluster runs the checks that talk to the cluster: connection, tls,
// authentication, privileges, version and clock.
func doctorCluster(ctx context.Context, g *globals, o *doctorOptions, r *doctorReport, base proxmox.Config, tokenRefErr error) {
	later := func(why string, names ...string) { r.skip(strings.Join(names, ", "), why) }
	cfg, err := proxmox.ApplyEnv(base, g.getenv)
	if err != nil {
		r.fail("connection", "connection settings: "+err.Error(), "fix the variable named above (see pmpc --help)")
		later("needs valid connection settings", "tls", "authentication", "privileges", "version", "clock")
		return
	}
	if strings.TrimSpace(cfg.Endpoint) == "" {
		r.fail("connection", "no Proxmox VE endpoint configured",
			"export PMPC_ENDPOINT=https://HOST:8006   (or set cluster.endpoint in pmpc.cue)\n"+
				"to try pmpc without a cluster, run `pmpc sim` and paste the export line it prints")
		later("needs an endpoint", "tls", "authentication", "privileges", "version", "clock")
		return
	}
	u, err := proxmox.BaseURL(cfg.Endpoint)
	if err != nil {
		r.fail("connection", err.Error(), "export PMPC_ENDPOINT=https://HOST:8006")
		later("needs a valid endpoint", "tls", "authentication", "privileges", "version", "clock")
		return
	}

	// The probe sends no credentials; trust is judged from what it saw,
	// by the client's own rules, before any are sent.
	pcfg := cfg
	pcfg.Logger = g.logger
	pcfg.UserAgent = "pmpc/" + buildVersion() + " (run " + g.runID + "; doctor)"
	pctx, cancel := context.WithTimeout(ctx, o.timeout)
	start := doctorNow()
	p, err := proxmox.Probe(pctx, pcfg)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			r.fail("connection", u.Host+": "+ctx.Err().Error())
			return
		}
		r.fail("connection", fmt.Sprintf("cannot reach %s: %v", u.Host, probeErrText(err)),
			fmt.Sprintf("check that the node is up, that %s is the right host and port (PVE listens on 8006),\nand that no firewall blocks it: curl -k %s://%s/", u.Host, u.Scheme, u.Host))
		later("endpoint unreachable", "tls", "authentication", "privileges", "version", "clock")
		return
	}
	if p.Status != http.StatusOK {
		r.warn("connection", fmt.Sprintf("%s answered HTTP %d to GET %s/access/domains, which every Proxmox VE node serves", u.Host, p.Status, u.Path),
			"check that PMPC_ENDPOINT names a Proxmox VE node: https://HOST:8006")
	} else {
		r.ok("connection", fmt.Sprintf("%s answered in %s", u.Host, p.RTT.Round(time.Millisecond)))
	}

	tlsOK := doctorTLS(r, cfg, u, p)

	// The clock needs no credentials, only the probe's Date header; it is
	// checked after the authenticated checks to keep the report's order.
	// The local time is taken halfway through the probe.
	defer doctorClock(r, p.ServerTime, start.Add(p.RTT/2))

	if !tlsOK {
		later("the certificate is not trusted, so pmpc sends no credentials", "authentication", "privileges", "version")
		return
	}
	who := principalOf(cfg)
	if cfg.Token == "" && (cfg.Username == "" || cfg.Password == "") {
		fix := "export PMPC_TOKEN='USER@REALM!TOKENID=SECRET'\n" +
			"create one for a user of its own under Datacenter > Permissions > API Tokens, or on a node:\n" +
			"  pveum user add pmpc@pve && pveum user token add pmpc@pve gitops --privsep 1\n" +
			"then run pmpc doctor again: it prints the pveum commands that grant the privileges pmpc needs"
		detail := "no credentials: PMPC_TOKEN is not set"
		if tokenRefErr != nil {
			detail = "no credentials: " + tokenRefErr.Error()
		} else if cfg.Username != "" {
			detail = "no password for " + cfg.Username + " (PMPC_PASSWORD); an API token is better"
		}
		r.fail("authentication", detail, fix)
		later("needs credentials", "privileges", "version")
		return
	}
	c, err := g.client(ctx, base)
	if err != nil {
		r.fail("authentication", err.Error())
		later("needs a client", "privileges", "version")
		return
	}
	actx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	ver, err := c.Version(actx)
	if err != nil {
		var ce *proxmox.CertificateError
		switch {
		case errors.As(err, &ce):
			r.fail("authentication", "the client refused the certificate: "+ce.Error())
		case proxmox.IsAuth(err):
			fix := "list the user's tokens on a node: pveum user token list " + userOf(who) + "\n" +
				"a lost secret cannot be shown again; create a new token: pveum user token add " + userOf(who) + " pmpc --privsep 0"
			if cfg.Token == "" {
				fix = "check PMPC_USERNAME and PMPC_PASSWORD (the username needs its realm, e.g. root@pam)"
			}
			r.fail("authentication", who+" was refused: "+lastErrText(err), fix)
		default:
			r.fail("authentication", "GET /version: "+lastErrText(err))
		}
		later("needs working authentication", "privileges", "version")
		return
	}
	how := "accepted"
	if cfg.Token == "" {
		how = "logged in with a password (an API token suits automation better)"
	}
	r.ok("authentication", who+" "+how)

	doctorPrivileges(actx, r, c, cfg)
	doctorVersion(r, ver)
}

// probeErrText shortens a transport error: url.Error repeats the URL.
func probeErrText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// lastErrText is the innermost useful part of a client error: the client
// prefixes the subject and path, which doctor's line already says.
func lastErrText(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "/version: "); i >= 0 {
		return s[i+len("/version: "):]
	}
	return s
}

// doctorTLS reports how the client will treat the certificate the probe
// saw: a pin wins; else the system's CAs plus the CA file; PMPC_INSECURE
// only warns. It reports whether the client will trust the server.
func doctorTLS(r *doctorReport, cfg proxmox.Config, u *url.URL, p *proxmox.ProbeResult) bool {
	if p.Trust == proxmox.TrustPlainHTTP {
		r.warn("tls", "plain http: the token travels unencrypted", "use https://"+u.Host+" (PVE itself serves only https)")
		return true
	}
	fp := p.Fingerprint
	if fp == "" {
		r.fail("tls", "the server presented no certificate")
		return false
	}
	pinFix := "if this is your node's certificate (check on the node: pvenode cert info), pin it:\n  export PMPC_TLS_FINGERPRINT=" + fp
	var ce *proxmox.CertificateError
	var cae *proxmox.CAFileError
	switch {
	case p.Trust == proxmox.TrustPinned && cfg.Insecure:
		r.warn("tls", "pinned fingerprint matches ("+fp+"); PMPC_INSECURE is set but ignored", "unset PMPC_INSECURE")
	case p.Trust == proxmox.TrustPinned:
		r.ok("tls", "pinned fingerprint matches ("+fp+")")
	case p.Trust == proxmox.TrustInsecure:
		r.warn("tls", "certificate NOT verified (PMPC_INSECURE): anyone on the path can read the token; the server presented "+fp,
			pinFix+"\n  unset PMPC_INSECURE")
	case p.Trust == proxmox.TrustVerified:
		by := "the system's CAs"
		if cfg.CAFile != "" {
			by += " and " + cfg.CAFile
		}
		r.ok("tls", "certificate verified by "+by)
	case errors.As(p.Distrust, &ce) && ce.Pinned != "":
		r.fail("tls", "the certificate does not match the pinned fingerprint "+cfg.Fingerprint+"; the server presented "+fp,
			"if the node's certificate was renewed on purpose (check on the node: pvenode cert info), pin the new one:\n"+
				"  export PMPC_TLS_FINGERPRINT="+fp+"\n"+
				"(and update cluster.fingerprint in pmpc.cue if it is set there); otherwise someone may be intercepting the connection")
	case errors.As(p.Distrust, &ce):
		r.fail("tls", fmt.Sprintf("certificate not trusted (%v); the server presented %s", ce.Err, fp),
			pinFix+"\nor set PMPC_CA_FILE to the CA that signed it")
	case errors.As(p.Distrust, &cae) && cae.Err != nil:
		r.fail("tls", "CA file: "+cae.Err.Error(), "set PMPC_CA_FILE (or cluster.ca_file) to a readable PEM file")
	case errors.As(p.Distrust, &cae):
		r.fail("tls", "CA file "+cae.File+" holds no PEM certificate", "set PMPC_CA_FILE to the PEM file of the CA that signed the node's certificate")
	default:
		r.fail("tls", fmt.Sprint(p.Distrust))
	}
	return p.Trusted()
}

// principalOf names who authenticates: the token id (never its secret) or
// the user.
func principalOf(cfg proxmox.Config) string {
	if cfg.Token != "" {
		id := cfg.Token
		if i := strings.LastIndexByte(id, '='); i >= 0 {
			id = id[:i]
		}
		return "token " + id
	}
	if cfg.Username != "" {
		return "user " + cfg.Username
	}
	return "nobody"
}

// userOf is the user part of "token user@realm!id" or "user user@realm".
func userOf(who string) string {
	_, id, _ := strings.Cut(who, " ")
	user, _, _ := strings.Cut(id, "!")
	if user == "" {
		return "USER@REALM"
	}
	return user
}

func doctorPrivileges(ctx context.Context, r *doctorReport, c *proxmox.Client, cfg proxmox.Config) {
	perms, err := c.Permissions(ctx)
	if err != nil {
		r.fail("privileges", "GET /access/permissions: "+err.Error())
		return
	}
	root := perms["/"]
	var missing []string
	for _, p := range neededPrivs {
		if root[p] == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		r.ok("privileges", fmt.Sprintf("all %d privileges pmpc needs are granted on /", len(neededPrivs)))
		return
	}
	who := principalOf(cfg)
	user := userOf(who)
	grant := "--users " + user
	if id, ok := strings.CutPrefix(who, "token "); ok {
		grant = "--tokens '" + id + "'"
	}
	fix := "grant them with a role (as root on a PVE node; use `pveum role modify` if the role exists):\n" +
		"  pveum role add PMPC --privs \"" + strings.Join(neededPrivs, ",") + "\"\n" +
		"  pveum acl modify / --roles PMPC " + grant
	if cfg.Token != "" && user != "root@pam" {
		fix += "\na privilege-separated token holds only what its user holds too:\n" +
			"  pveum acl modify / --roles PMPC --users " + user
	}
	sort.Strings(missing)
	r.fail("privileges", fmt.Sprintf("%s lacks %d of the privileges pmpc needs on /: %s", who, len(missing), strings.Join(missing, ", ")), fix)
}

func doctorVersion(r *doctorReport, v proxmox.VersionInfo) {
	major, err := strconv.Atoi(strings.SplitN(v.Version, ".", 2)[0])
	switch {
	case err != nil:
		r.warn("version", fmt.Sprintf("cannot read the Proxmox VE version %q; pmpc supports 8.x and 9.x", v.Version))
	case major == 8 || major == 9:
		r.ok("version", "Proxmox VE "+v.Version)
	case major < 8:
		r.fail("version", "Proxmox VE "+v.Version+" is not supported (pmpc supports 8.x and 9.x)",
			"upgrade the cluster: https://pve.proxmox.com/wiki/Upgrade_from_7_to_8")
	default:
		r.warn("version", "Proxmox VE "+v.Version+" is newer than pmpc knows (8.x and 9.x); plan before you apply",
			"upgrade pmpc, or check its release notes for Proxmox VE "+strconv.Itoa(major))
	}
}

// doctorClock compares the server's clock (its Date header) with the local
// one at the same moment.
func doctorClock(r *doctorReport, server, local time.Time) {
	if server.IsZero() {
		r.warn("clock", "the server sent no Date header; cannot compare clocks")
		return
	}
	// Date has whole seconds: allow for the truncation.
	skew := server.Sub(local.Truncate(time.Second)).Round(time.Second)
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	if abs > maxClockSkew {
		r.warn("clock", fmt.Sprintf("the server's clock is %s %s this machine's (over %s): tickets and task times depend on it", abs, dir, maxClockSkew),
			"run NTP on both (on the node: chronyc tracking; here: timedatectl status)")
		return
	}
	if abs <= time.Second {
		r.ok("clock", "in sync with the server (within 1s)")
		return
	}
	r.ok("clock", fmt.Sprintf("the server's clock is %s %s this machine's", abs, dir))
}

// doctorWorkspace checks the definitions and the snapshot.
func doctorWorkspace(g *globals, r *doctorReport, ws *workspace.Workspace, wsErr error) {
	if errors.Is(wsErr, workspace.ErrNotFound) {
		r.skip("workspace", "not inside a workspace (no pmpc.cue here or above); run pmpc init, or pass -C DIR")
		r.skip("snapshot", "needs a workspace")
		return
	}
	if wsErr != nil {
		r.fail("workspace", "pmpc.cue is invalid: "+summary(wsErr), problems(wsErr)...)
		r.skip("snapshot", "needs a valid pmpc.cue")
		return
	}
	set, err := ws.Load()
	switch {
	case err != nil:
		r.fail("workspace", "definitions do not load: "+summary(err), problems(err)...)
	default:
		r.ok("workspace", fmt.Sprintf("%s: %d %s (%d vm, %d container, %d pool)", ws.Root, set.Len(),
			plural(set.Len(), "definition", "definitions"), len(set.VMs), len(set.Containers), len(set.Pools)))
	}
	doctorSnapshot(g, r, ws)
}

// problems lists up to five schema errors and how to see them all.
func problems(err error) []string {
	var se *schema.Errors
	if !errors.As(err, &se) {
		return nil
	}
	var lines []string
	for i, e := range se.List {
		if i == 5 {
			lines = append(lines, fmt.Sprintf("... and %d more", len(se.List)-5))
			break
		}
		lines = append(lines, e.String())
	}
	return append(lines, "run pmpc validate for every problem")
}

// summary is a problem count for schema errors (listed below the line by
// problems), else the error's first line.
func summary(err error) string {
	var se *schema.Errors
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %s", len(se.List), plural(len(se.List), "problem", "problems"))
	}
	l, _, _ := strings.Cut(err.Error(), "\n")
	return l
}

func doctorSnapshot(g *globals, r *doctorReport, ws *workspace.Workspace) {
	dir := filepath.Join(ws.CacheDir(), "snapshot")
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		r.warn("snapshot", "none yet", "pmpc refresh")
		return
	}
	st, err := snapshot.Open(dir, snapshot.Options{Logger: g.logger, KeepCorrupt: true})
	if err != nil {
		var le *snapshot.LockedError
		var ce *snapshot.CorruptError
		switch {
		case errors.As(err, &le):
			r.warn("snapshot", "in use: "+le.Error()+" (another pmpc is running)")
		case errors.As(err, &ce):
			r.fail("snapshot", "corrupt: "+probeErrText(ce.Err), snapshot.RebuildHint+"   (it is only a cache)")
		default:
			r.fail("snapshot", err.Error(), snapshot.RebuildHint+"   (it is only a cache)")
		}
		return
	}
	defer st.Close()
	revs, err := st.Revisions()
	if err != nil {
		r.fail("snapshot", "read revisions: "+err.Error(), snapshot.RebuildHint+"   (it is only a cache)")
		return
	}
	if len(revs) == 0 {
		r.warn("snapshot", "empty", "pmpc refresh")
		return
	}
	last := revs[len(revs)-1]
	age := doctorNow().Sub(last.Time).Round(time.Second)
	if age < 0 {
		age = 0
	}
	r.ok("snapshot", fmt.Sprintf("%d %s; latest %s has %d guests, taken %s ago", len(revs),
		plural(len(revs), "revision", "revisions"), last, last.Guests, age))
}
