package proxmox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// call performs r, retrying what is safe to retry, and decodes the "data"
// of PVE's answer into out (nil discards it).
//
// GETs (and requests marked idempotent) are retried with jittered backoff on
// network errors, 502/503/504, 595/596 and PVE's "got timeout" lock errors.
// Other requests are retried only when PVE certainly did not act: the
// request was never fully sent, or the answer was 503 (pveproxy not ready),
// 595 (the proxied node could not be reached) or "got timeout" (the guest's
// lock was never taken). A write whose connection failed after it was sent
// returns an error wrapping ErrAmbiguous.
func (c *Client) call(ctx context.Context, r *request, out any) error {
	safe := r.method == http.MethodGet || r.idempotent
	relogged := false
	for n := 1; ; n++ {
		start := time.Now()
		a := c.roundTrip(ctx, r)
		if a.status != http.StatusOK {
			// PVE may quote a parameter back; a secret one must not reach
			// an error or a log line.
			a.reason, a.body = redact(r, a.reason), []byte(redact(r, string(a.body)))
		}
		c.logCall(r, a, n, time.Since(start))
		if a.err == nil && a.status == http.StatusOK {
			dec := decodeData
			if r.whole {
				dec = decodeWhole
			}
			if err := dec(a.body, out); err != nil {
				return c.wrap(r, fmt.Errorf("decode answer: %w", err))
			}
			return nil
		}
		var retry bool
		var failure error
		if a.err != nil {
			if ctx.Err() != nil {
				return c.wrap(r, ctx.Err())
			}
			var ce *CertificateError
			if errors.As(a.err, &ce) {
				return c.wrap(r, ce)
			}
			var le *loginError
			if errors.As(a.err, &le) {
				return le.err
			}
			failure = c.wrap(r, a.err)
			switch {
			case safe || !a.sent:
				retry = true
			default:
				return fmt.Errorf("%w: %w", failure, ErrAmbiguous)
			}
		} else {
			ae := parseAPIError(r, a)
			failure = ae
			switch {
			case ae.Status == http.StatusUnauthorized && !r.noAuth && c.tokenHeader == "" && !relogged:
				// The ticket expired or was revoked; the request was refused
				// before any handler ran, so log in again and resend.
				relogged = true
				c.dropTicket()
				n--
				continue
			case ae.Status == 503 || ae.Status == 595 || IsTimeout(ae) && ae.Status == 500:
				retry = true
			case ae.Status == 502 || ae.Status == 504 || ae.Status == 596:
				if !safe {
					return fmt.Errorf("%w: %w", failure, ErrAmbiguous)
				}
				retry = true
			}
		}
		if !retry || n >= c.cfg.Retry.Attempts {
			return failure
		}
		if err := c.sleep(ctx, c.cfg.Retry.delay(n, true)); err != nil {
			return c.wrap(r, err)
		}
	}
}

// wrap prefixes err with the call's subject, method and path. A url.Error
// is unwrapped first: it would repeat the whole URL.
func (c *Client) wrap(r *request, err error) error {
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err
	}
	if r.subject != "" {
		return fmt.Errorf("%s: %s %s: %w", r.subject, r.method, r.path, err)
	}
	return fmt.Errorf("%s %s: %w", r.method, r.path, err)
}

func (c *Client) logCall(r *request, a attempt, n int, d time.Duration) {
	if !c.log.Enabled(context.Background(), -4) {
		return
	}
	attrs := []any{"method", r.method, "path", r.path, "ms", float64(d.Microseconds()) / 1000}
	if n > 1 {
		attrs = append(attrs, "attempt", n)
	}
	if a.err != nil {
		attrs = append(attrs, "error", errText(a.err))
	} else {
		attrs = append(attrs, "status", a.status)
		if a.status != http.StatusOK {
			attrs = append(attrs, "reason", a.reason)
		}
	}
	c.log.Debug("pve api", attrs...)
}

// errText shortens transport errors for logs; url.Error would repeat the
// whole URL.
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func decodeData(body []byte, out any) error {
	if out == nil {
		return nil
	}
	env := struct {
		Data any `json:"data"`
	}{Data: out}
	return json.Unmarshal(body, &env)
}

func decodeWhole(body []byte, out any) error {
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

func parseAPIError(r *request, a attempt) *APIError {
	ae := &APIError{Method: r.method, Path: r.path, Status: a.status, Reason: a.reason, Subject: r.subject}
	if len(a.body) > 0 {
		var b struct {
			Message string                     `json:"message"`
			Errors  map[string]json.RawMessage `json:"errors"`
		}
		if json.Unmarshal(a.body, &b) == nil {
			ae.Message = strings.TrimRight(b.Message, "\n")
			for k, v := range b.Errors {
				if ae.Errors == nil {
					ae.Errors = map[string]string{}
				}
				var s string
				if json.Unmarshal(v, &s) != nil {
					s = string(v)
				}
				ae.Errors[k] = strings.TrimRight(s, "\n")
			}
		}
	}
	if ae.Reason == "" {
		ae.Reason = http.StatusText(a.status)
	}
	return ae
}

// sensitiveParams are the write parameters whose values are secrets: a
// cloud-init password, a container's root password.
var sensitiveParams = []string{"cipassword", "password"}

// redact replaces the values of r's sensitive parameters in text (an
// answer's reason phrase or body) with "(sensitive)".
func redact(r *request, text string) string {
	for _, k := range sensitiveParams {
		for _, v := range r.form[k] {
			if v == "" {
				continue
			}
			text = strings.ReplaceAll(text, v, "(sensitive)")
			// A JSON body escapes some characters (&, <, >, quotes).
			if j, err := json.Marshal(v); err == nil {
				text = strings.ReplaceAll(text, strings.Trim(string(j), `"`), "(sensitive)")
			}
		}
	}
	return text
}
