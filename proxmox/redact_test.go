package proxmox

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

// TestErrorsNeverEchoSecrets: PVE's 400s (and some 500s) quote a
// parameter's value back ("value '…' does not match the regex pattern").
// For the keys that carry secrets (cipassword, the container password),
// the value must not reach the error text, the APIError's fields, or a log
// line, whichever of reason, message or errors map echoes it.
func TestErrorsNeverEchoSecrets(t *testing.T) {
	const secret = "Tr0ub4dor&3-secret"
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		v := r.PostForm.Get("cipassword") + r.PostForm.Get("password")
		switch {
		case strings.HasSuffix(r.URL.Path, "/qemu"):
			writeErr(w, 400, "Parameter verification failed.", map[string]string{
				"cipassword": "value '" + v + "' does not match the regex pattern"})
		default:
			writeErr(w, 500, "unable to apply password '"+v+"' - too short", nil)
		}
	})
	var logs bytes.Buffer
	c.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()

	_, err := c.CreateGuest(ctx, resource.KindVM, "pve1", 100, map[string]string{"name": "web", "cipassword": secret})
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error text holds the secret: %v", what, err)
		}
		var ae *APIError
		if errors.As(err, &ae) {
			all := ae.Reason + ae.Message
			for _, v := range ae.Errors {
				all += v
			}
			if strings.Contains(all, secret) {
				t.Errorf("%s: APIError fields hold the secret: %+v", what, ae)
			}
		}
	}
	check("qemu create 400", err)
	if !strings.Contains(err.Error(), "cipassword: value '(sensitive)' does not match") {
		t.Errorf("the rest of the error should survive: %v", err)
	}
	_, err = c.CreateGuest(ctx, resource.KindContainer, "pve1", 101, map[string]string{"hostname": "ct", "password": secret})
	check("lxc create 500", err)
	_, err = c.UpdateConfig(ctx, resource.KindContainer, "pve1", 101, map[string]string{"password": secret}, nil, "")
	check("lxc update 500", err)
	if strings.Contains(logs.String(), secret) {
		t.Errorf("logs hold the secret:\n%s", logs.String())
	}
}
