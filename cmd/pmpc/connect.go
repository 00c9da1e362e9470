package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/snapshot"
	"github.com/pmpc-dev/pmpc/workspace"
)

// client builds the Proxmox API client a command uses. ws, when given, is the
// connection part of the workspace config (pmpc.cue); the environment
// overrides each of its fields (PMPC_ENDPOINT, PMPC_TOKEN, ... see
// proxmox.ApplyEnv). The client logs through the command's log settings, and
// its warnings (e.g. PMPC_INSECURE) are logged at warn level on every run.
// The User-Agent carries the run ID, so PVE's access log ties to the run.
func (g *globals) client(ctx context.Context, ws ...proxmox.Config) (*proxmox.Client, error) {
	_ = ctx // reserved: a connectivity check would use it
	cfg, err := g.clientConfig(ws...)
	if err != nil {
		return nil, err
	}
	return g.newClient(cfg)
}

// clientConfig is the client configuration g.client uses: ws (pmpc.cue's
// part) overridden by the environment, checked for an endpoint and
// credentials.
func (g *globals) clientConfig(ws ...proxmox.Config) (proxmox.Config, error) {
	var base proxmox.Config
	if len(ws) > 0 {
		base = ws[0]
	}
	getenv := g.getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfg, err := proxmox.ApplyEnv(base, getenv)
	if err != nil {
		return cfg, fmt.Errorf("connection settings: %w", err)
	}
	if strings.TrimSpace(cfg.Endpoint) == "" {
		return cfg, fmt.Errorf("no Proxmox VE endpoint configured: set PMPC_ENDPOINT=https://HOST:8006 (or cluster.endpoint in pmpc.cue);\n" +
			"to try pmpc without a cluster, run `pmpc sim` and paste the export line it prints")
	}
	if cfg.Token == "" && (cfg.Username == "" || cfg.Password == "") {
		if cfg.Username != "" {
			return cfg, fmt.Errorf("no password for %s: set PMPC_PASSWORD, or better, use an API token: PMPC_TOKEN=USER@REALM!TOKENID=SECRET", cfg.Username)
		}
		return cfg, fmt.Errorf("no credentials for %s: set PMPC_TOKEN=USER@REALM!TOKENID=SECRET\n"+
			"(create one for a user of its own under Datacenter > Permissions > API Tokens, or on a node: pveum user add pmpc@pve && pveum user token add pmpc@pve gitops --privsep 1;\n"+
			"then pmpc doctor prints the pveum commands that grant it the privileges pmpc needs)", cfg.Endpoint)
	}
	return cfg, nil
}

// newClient builds the client for cfg (see g.client).
func (g *globals) newClient(cfg proxmox.Config) (*proxmox.Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = g.logger
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "pmpc/" + buildVersion() + " (run " + g.runID + ")"
	}
	c, err := proxmox.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Endpoint, err)
	}
	return c, nil
}

// planConnConfig is the connection part of pmpc.cue as a client config; the
// environment overrides it (see g.client). A cluster.token that does not
// resolve is left out here (the environment may supply the token; doctor
// reports it through clusterToken).
func planConnConfig(ws *workspace.Workspace) proxmox.Config {
	cc := ws.Config.Cluster
	cfg := proxmox.Config{Endpoint: cc.Endpoint, Fingerprint: cc.Fingerprint}
	if cc.CAFile != "" {
		cfg.CAFile = cc.CAFile
		if !filepath.IsAbs(cc.CAFile) {
			cfg.CAFile = filepath.Join(ws.Root, cc.CAFile)
		}
	}
	if tok, err := clusterToken(ws); err == nil {
		cfg.Token = tok
	}
	return cfg
}

// clusterToken resolves the secret reference of pmpc.cue's cluster.token
// ("" when there is none).
func clusterToken(ws *workspace.Workspace) (string, error) {
	ref := ws.Config.Cluster.Token
	if ref == "" {
		return "", nil
	}
	tok, err := apply.ResolveSecretRef(ws.Root)(ref)
	if err != nil {
		return "", fmt.Errorf("cluster.token %q in pmpc.cue: %w", ref, err)
	}
	return tok, nil
}

// session is what a command that reads the cluster holds: the workspace's
// snapshot and an API client, each opened on first use, so that a command
// opens them in the order it needs and never connects when it works from
// the snapshot alone. Close releases both.
type session struct {
	g      *globals
	ws     *workspace.Workspace
	store  *snapshot.Store
	client *proxmox.Client
	cfg    proxmox.Config // the client's configuration, for messages
}

// session starts a session on ws; nothing is opened until asked for.
func (g *globals) session(ws *workspace.Workspace) *session { return &session{g: g, ws: ws} }

// snapshot opens the workspace's snapshot (see openSnapshot: a store held by
// another pmpc is exit code 4).
func (s *session) snapshot() (*snapshot.Store, error) {
	if s.store == nil {
		st, err := openSnapshot(s.g, s.ws)
		if err != nil {
			return nil, err
		}
		s.store = st
	}
	return s.store, nil
}

// connect builds the API client from pmpc.cue and the environment.
func (s *session) connect(ctx context.Context) (*proxmox.Client, error) {
	if s.client == nil {
		cfg, err := s.g.clientConfig(planConnConfig(s.ws))
		if err != nil {
			return nil, withCode(exitError, err)
		}
		c, err := s.g.newClient(cfg)
		if err != nil {
			return nil, withCode(exitError, err)
		}
		s.client, s.cfg = c, cfg
	}
	return s.client, nil
}

// refresh reads the cluster into the snapshot (incrementally unless
// opts.Full: configs are read only for guests that look changed) and
// returns the new revision.
func (s *session) refresh(ctx context.Context, opts snapshot.RefreshOptions) (*resource.Cluster, snapshot.Revision, snapshot.RefreshStats, error) {
	store, err := s.snapshot()
	if err != nil {
		return nil, snapshot.Revision{}, snapshot.RefreshStats{}, err
	}
	c, err := s.connect(ctx)
	if err != nil {
		return nil, snapshot.Revision{}, snapshot.RefreshStats{}, err
	}
	cl, rev, stats, err := snapshot.Refresh(ctx, clientSource{c}, store, opts)
	if err != nil {
		return nil, snapshot.Revision{}, snapshot.RefreshStats{}, withCode(exitError, explainClusterError(s.cfg, err))
	}
	return cl, rev, stats, nil
}

// observe is the cluster a command compares against: refreshed from the
// cluster first (progress of a long refresh to progress, nil for none), or
// with refresh false the snapshot's latest revision, without connecting.
func (s *session) observe(ctx context.Context, refresh bool, progress io.Writer) (*resource.Cluster, snapshot.Revision, error) {
	if refresh {
		cl, rev, _, err := s.refresh(ctx, snapshot.RefreshOptions{Progress: progress})
		return cl, rev, err
	}
	store, err := s.snapshot()
	if err != nil {
		return nil, snapshot.Revision{}, err
	}
	cl, rev, err := store.Latest()
	if errors.Is(err, snapshot.ErrNoRevision) {
		return nil, snapshot.Revision{}, withCode(exitError, fmt.Errorf("no snapshot of the cluster yet (%s is empty): run 'pmpc refresh' first, or leave out --refresh=false to read the cluster now",
			displayPath(s.ws.Root, filepath.Join(s.ws.CacheDir(), "snapshot"))))
	}
	if err != nil {
		return nil, snapshot.Revision{}, withCode(exitError, fmt.Errorf("%w\nThe snapshot is unreadable: run 'pmpc refresh', or leave out --refresh=false", err))
	}
	return cl, rev, nil
}

// Close closes the snapshot and the client's idle connections.
func (s *session) Close() {
	if s.store != nil {
		s.store.Close()
	}
	if s.client != nil {
		s.client.Close()
	}
}

// explainClusterError adds to an error of talking to the cluster what a
// user checks next: for a cluster that cannot be reached, the endpoint and
// what to look at; for refused credentials, which token (never its secret)
// went to which endpoint. Other errors are returned as they are.
func explainClusterError(cfg proxmox.Config, err error) error {
	var ce *proxmox.CertificateError
	if err == nil || errors.As(err, &ce) {
		return err
	}
	var oe *net.OpError
	var de *net.DNSError
	if (errors.As(err, &oe) && oe.Op == "dial" || errors.As(err, &de)) && !proxmox.IsAmbiguous(err) {
		return fmt.Errorf("cannot reach the Proxmox VE API at %s: %w\n"+
			"check that PMPC_ENDPOINT (or cluster.endpoint in pmpc.cue) names a node and its API port (8006), "+
			"that the node is up and pveproxy runs on it (systemctl status pveproxy), and that no firewall blocks the port; "+
			"pmpc doctor checks the connection step by step", cfg.Endpoint, err)
	}
	if proxmox.IsAuth(err) {
		if cfg.Token != "" {
			id, _, _ := strings.Cut(cfg.Token, "=")
			user, _, _ := strings.Cut(id, "!")
			return fmt.Errorf("%w\n%s refused the API token %s (its secret is never shown); list that user's tokens on a node with: pveum user token list %s",
				err, cfg.Endpoint, id, user)
		}
		return fmt.Errorf("%w\n%s refused the login of %s: check PMPC_USERNAME and PMPC_PASSWORD", err, cfg.Endpoint, cfg.Username)
	}
	return err
}
