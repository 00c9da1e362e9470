package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/pmpc-dev/pmpc/proxmox"
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
