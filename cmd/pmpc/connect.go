package main

import (
	"context"
	"fmt"
	"io"
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
		return nil, fmt.Errorf("connection settings: %w", err)
	}
	if strings.TrimSpace(cfg.Endpoint) == "" {
		return nil, fmt.Errorf("no Proxmox VE endpoint configured: set PMPC_ENDPOINT=https://HOST:8006 (or endpoint in pmpc.cue);\n" +
			"to try pmpc without a cluster, run `pmpc sim` and paste the export line it prints")
	}
	if cfg.Token == "" && (cfg.Username == "" || cfg.Password == "") {
		if cfg.Username != "" {
			return nil, fmt.Errorf("no password for %s: set PMPC_PASSWORD, or better, use an API token: PMPC_TOKEN=USER@REALM!TOKENID=SECRET", cfg.Username)
		}
		return nil, fmt.Errorf("no credentials for %s: set PMPC_TOKEN=USER@REALM!TOKENID=SECRET\n"+
			"(create one under Datacenter > Permissions > API Tokens, or: pveum user token add root@pam pmpc --privsep 0)", cfg.Endpoint)
	}
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
		c, err := s.g.client(ctx, planConnConfig(s.ws))
		if err != nil {
			return nil, withCode(exitError, err)
		}
		s.client = c
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
		return nil, snapshot.Revision{}, snapshot.RefreshStats{}, withCode(exitError, err)
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
	if err != nil {
		return nil, snapshot.Revision{}, withCode(exitError, fmt.Errorf("%w\nThe snapshot is empty or unreadable: run 'pmpc refresh', or leave out --refresh=false", err))
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
