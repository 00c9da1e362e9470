package proxmox

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// ticketLifetime is how long PVE accepts a ticket.
const ticketLifetime = 2 * time.Hour

// loginError carries a failed login through the transport, so that the
// call that needed the ticket reports the login's own error.
type loginError struct{ err error }

func (e *loginError) Error() string { return e.err.Error() }
func (e *loginError) Unwrap() error { return e.err }

// authorize adds the credentials to req: the API token header, or the
// ticket cookie plus (on writes) the CSRF prevention token.
func (c *Client) authorize(ctx context.Context, req *http.Request) error {
	if c.tokenHeader != "" {
		req.Header.Set("Authorization", c.tokenHeader)
		return nil
	}
	ticket, csrf, err := c.ensureTicket(ctx)
	if err != nil {
		return &loginError{err}
	}
	req.AddCookie(&http.Cookie{Name: "PVEAuthCookie", Value: url.QueryEscape(ticket)})
	if req.Method != http.MethodGet {
		req.Header.Set("CSRFPreventionToken", csrf)
	}
	return nil
}

type ticketAnswer struct {
	Username string  `json:"username"`
	Ticket   string  `json:"ticket"`
	CSRF     string  `json:"CSRFPreventionToken"`
	NeedTFA  flexInt `json:"NeedTFA"`
}

// ensureTicket returns a valid ticket, logging in on first use and renewing
// it once it is older than Config.TicketRenewal (well before PVE's 2-hour
// expiry). Renewal posts the current ticket as the password, as PVE's GUI
// does; if that fails the client logs in with the password again.
func (c *Client) ensureTicket(ctx context.Context) (ticket, csrf string, err error) {
	c.ticketMu.Lock()
	defer c.ticketMu.Unlock()
	age := c.now().Sub(c.ticketAt)
	if c.ticket != "" && age < c.cfg.TicketRenewal {
		return c.ticket, c.csrf, nil
	}
	if c.ticket != "" && age < ticketLifetime-time.Minute {
		if err := c.login(ctx, c.ticket, "renew ticket for "+c.cfg.Username); err == nil {
			return c.ticket, c.csrf, nil
		}
	}
	if err := c.login(ctx, c.cfg.Password, "log in as "+c.cfg.Username); err != nil {
		return "", "", err
	}
	return c.ticket, c.csrf, nil
}

// login posts username and password (or the current ticket) to
// /access/ticket. Callers hold ticketMu.
func (c *Client) login(ctx context.Context, password, subject string) error {
	var ans ticketAnswer
	r := &request{
		method: http.MethodPost, path: "/access/ticket", subject: subject, noAuth: true, idempotent: true,
		form: url.Values{"username": {c.cfg.Username}, "password": {password}},
	}
	if err := c.call(ctx, r, &ans); err != nil {
		return err
	}
	if ans.NeedTFA != 0 {
		return c.wrap(r, errTFA)
	}
	if ans.Ticket == "" || ans.CSRF == "" {
		return c.wrap(r, errNoTicket)
	}
	c.ticket, c.csrf, c.ticketAt = ans.Ticket, ans.CSRF, c.now()
	return nil
}

// dropTicket forgets the ticket after PVE refused it.
func (c *Client) dropTicket() {
	c.ticketMu.Lock()
	c.ticket, c.csrf = "", ""
	c.ticketMu.Unlock()
}

type constErr string

func (e constErr) Error() string { return string(e) }

const (
	errTFA      = constErr("the account requires two-factor authentication, which pmpc does not do; use an API token (PMPC_TOKEN)")
	errNoTicket = constErr("the answer carried no ticket or CSRF token")
)
