package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/proxmox"
)

func TestClientTeaches(t *testing.T) {
	env := map[string]string{}
	var stderr bytes.Buffer
	g := &globals{getenv: func(k string) string { return env[k] }, stderr: &stderr, runID: "test-run"}
	g.logger = slog.New(slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()

	_, err := g.client(ctx)
	if err == nil || !strings.Contains(err.Error(), "PMPC_ENDPOINT") || !strings.Contains(err.Error(), "pmpc sim") {
		t.Errorf("no endpoint: err = %v", err)
	}
	env["PMPC_ENDPOINT"] = "https://pve1:8006"
	if _, err = g.client(ctx); err == nil || !strings.Contains(err.Error(), "PMPC_TOKEN") {
		t.Errorf("no token: err = %v", err)
	}
	env["PMPC_TOKEN"] = "root@pam!pmpc=secret-uuid"
	env["PMPC_INSECURE"] = "1"
	c, err := g.client(ctx, proxmox.Config{Endpoint: "https://ws:8006", Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint() != "https://pve1:8006/api2/json" || c.Workers() != 2 {
		t.Errorf("env did not override the workspace, or dropped its fields: %s workers %d", c.Endpoint(), c.Workers())
	}
	if !strings.Contains(stderr.String(), "PMPC_INSECURE") {
		t.Errorf("insecure not warned on stderr: %q", stderr.String())
	}
	if strings.Contains(stderr.String(), "secret-uuid") {
		t.Errorf("stderr leaks the token: %q", stderr.String())
	}
}
