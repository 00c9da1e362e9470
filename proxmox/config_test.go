package proxmox

import (
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	cfg, err := ConfigFromEnv(envOf(map[string]string{
		"PMPC_ENDPOINT":        "https://pve1:8006",
		"PMPC_TOKEN":           testToken,
		"PMPC_TLS_FINGERPRINT": strings.Repeat("ab:", 31) + "ab",
		"PMPC_CA_FILE":         "/etc/ca.pem",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != "https://pve1:8006" || cfg.Token != testToken || cfg.CAFile != "/etc/ca.pem" || cfg.Insecure {
		t.Errorf("cfg = %v", cfg)
	}

	// bpg's names work too.
	cfg, err = ConfigFromEnv(envOf(map[string]string{
		"PROXMOX_VE_ENDPOINT":  "https://pve2:8006/",
		"PROXMOX_VE_API_TOKEN": testToken,
		"PROXMOX_VE_INSECURE":  "true",
	}))
	if err != nil || cfg.Endpoint != "https://pve2:8006/" || cfg.Token != testToken || !cfg.Insecure {
		t.Errorf("bpg env: %v, %v", cfg, err)
	}

	// PMPC_ names win over bpg's.
	cfg, _ = ConfigFromEnv(envOf(map[string]string{"PMPC_ENDPOINT": "https://a:8006", "PROXMOX_VE_ENDPOINT": "https://b:8006"}))
	if cfg.Endpoint != "https://a:8006" {
		t.Errorf("endpoint = %q", cfg.Endpoint)
	}
}

func TestApplyEnvOverridesWorkspace(t *testing.T) {
	ws := Config{Endpoint: "https://ws:8006", Fingerprint: "x", Token: testToken, Workers: 7}
	cfg, err := ApplyEnv(ws, envOf(map[string]string{"PMPC_ENDPOINT": "https://env:8006", "PMPC_USERNAME": "ops@pve", "PMPC_PASSWORD": "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != "https://env:8006" || cfg.Fingerprint != "x" || cfg.Workers != 7 {
		t.Errorf("cfg = %v", cfg)
	}
	// Ticket credentials from the environment replace the workspace's token.
	if cfg.Token != "" || cfg.Username != "ops@pve" || cfg.Password != "pw" {
		t.Errorf("auth = %v", cfg)
	}
	cfg, _ = ApplyEnv(Config{Insecure: true}, envOf(map[string]string{"PMPC_INSECURE": "0"}))
	if cfg.Insecure {
		t.Error("PMPC_INSECURE=0 did not override")
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	secret := "0b7a3c5e-1111"
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PMPC_TOKEN": "root@pam=" + secret}, "PMPC_TOKEN"},
		{map[string]string{"PMPC_TOKEN": "root@pam!ci"}, "USER@REALM!TOKENID=SECRET"},
		{map[string]string{"PROXMOX_VE_API_TOKEN": "nope"}, "PROXMOX_VE_API_TOKEN"},
		{map[string]string{"PMPC_INSECURE": "maybe"}, "PMPC_INSECURE"},
		{map[string]string{"PMPC_TLS_FINGERPRINT": "AB:CD"}, "PMPC_TLS_FINGERPRINT"},
	} {
		_, err := ConfigFromEnv(envOf(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want mention of %s", tt.env, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the secret: %v", err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Token: testToken}, "PMPC_ENDPOINT"},
		{Config{Endpoint: "https://pve1:8006"}, "PMPC_TOKEN"},
		{Config{Endpoint: "https://pve1:8006", Username: "root@pam"}, "PMPC_PASSWORD"},
		{Config{Endpoint: "https://pve1:8006", Username: "root", Password: "x"}, "realm"},
		{Config{Endpoint: "ftp://pve1", Token: testToken}, "https"},
		{Config{Endpoint: "https://root:pw@pve1:8006", Token: testToken}, "credentials"},
	} {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%v): err = %v, want mention of %q", tt.cfg, err, tt.want)
		}
	}
}

func TestEndpointForms(t *testing.T) {
	for in, want := range map[string]string{
		"https://pve1:8006":           "https://pve1:8006/api2/json",
		"https://pve1:8006/":          "https://pve1:8006/api2/json",
		"https://pve1:8006/api2/json": "https://pve1:8006/api2/json",
		"pve1":                        "https://pve1:8006/api2/json",
		"10.0.0.5:443":                "https://10.0.0.5:443/api2/json",
		"https://pve.example.com/pve": "https://pve.example.com/pve/api2/json",
	} {
		u, err := BaseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("BaseURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
}
