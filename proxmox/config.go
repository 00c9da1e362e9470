package proxmox

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Config configures a Client. Endpoint and one way to authenticate (Token,
// or Username and Password) are required; everything else has defaults.
//
// Config holds secrets: print it with String (which redacts them), never
// with %#v.
type Config struct {
	// Endpoint is the API's base URL, e.g. "https://pve1:8006". A bare
	// "host" or "host:port" means https (port 8006 when none is given); a
	// trailing "/api2/json" is accepted.
	Endpoint string

	// Token is an API token, "USER@REALM!TOKENID=SECRET".
	Token string
	// Username ("root@pam") and Password authenticate with a ticket
	// (POST /access/ticket) when no Token is set.
	Username string
	Password string

	// CAFile names a PEM file of CA certificates trusted in addition to the
	// system's.
	CAFile string
	// Fingerprint pins the server's leaf certificate by its SHA-256
	// fingerprint (hex, colons optional, any case). A pinned certificate is
	// trusted whoever signed it; any other certificate is refused.
	Fingerprint string
	// Insecure skips certificate verification entirely. The client warns
	// about it (Warnings, and the logger) every time it is built.
	Insecure bool

	// Workers bounds the number of API requests in flight at once
	// (default 4; real PVE serves with 3 worker processes).
	Workers int
	// PerNode bounds the requests in flight to any one node's
	// /nodes/{node}/... paths (default: Workers, i.e. no extra limit).
	PerNode int
	// UserAgent is sent with every request (default "pmpc"). Callers put a
	// run ID in it so that PVE's access log can be tied to a run.
	UserAgent string
	// Logger receives API calls at debug level with timings, and warnings.
	// Secrets are never logged. Nil discards.
	Logger *slog.Logger

	// RequestTimeout bounds one HTTP attempt (default 2 minutes).
	RequestTimeout time.Duration
	// Retry is the backoff for retried requests.
	Retry Backoff
	// TaskPoll is the backoff between task status polls (default 50 ms
	// doubling up to 500 ms: at most two polls a second per task, and an
	// end seen 250 ms late on average). Callers rarely need another.
	TaskPoll Backoff
	// TicketRenewal is the age after which a ticket is renewed (default
	// 1 hour; tickets expire after 2).
	TicketRenewal time.Duration
	// AmbiguitySettle is how long a write whose connection failed waits
	// before reading the cluster back to find out what happened (default
	// 500 ms).
	AmbiguitySettle time.Duration
}

// defaultTaskPoll is how a client polls a task's status unless
// Config.TaskPoll says otherwise: 50 ms doubling up to 500 ms. A task is
// seen to end at most 500 ms after it does (about 250 ms on average once
// the polls reach their cap, short tasks much sooner), and no task is
// polled more than twice a second.
var defaultTaskPoll = Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond}

// Backoff is a capped exponential backoff with jitter.
type Backoff struct {
	// Attempts is the total number of tries, the first included (retries
	// only; ignored for task polling). Default 4.
	Attempts int
	// Initial is the first delay; each further delay doubles up to Max.
	Initial time.Duration
	Max     time.Duration
}

// String prints the config with its secrets redacted.
func (c Config) String() string {
	tok := ""
	if c.Token != "" {
		id, _, _ := strings.Cut(c.Token, "=")
		tok = id + "=<redacted>"
	}
	pw := ""
	if c.Password != "" {
		pw = "<redacted>"
	}
	return fmt.Sprintf("proxmox.Config{Endpoint:%q Token:%q Username:%q Password:%q CAFile:%q Fingerprint:%q Insecure:%v Workers:%d PerNode:%d UserAgent:%q}",
		c.Endpoint, tok, c.Username, pw, c.CAFile, c.Fingerprint, c.Insecure, c.Workers, c.PerNode, c.UserAgent)
}

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// ConfigFromEnv reads a Config from the environment (see ApplyEnv).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	return ApplyEnv(Config{}, getenv)
}

// ApplyEnv returns base with every connection setting that the environment
// sets replaced by the environment's value:
//
//	PMPC_ENDPOINT        or PROXMOX_VE_ENDPOINT
//	PMPC_TOKEN           or PROXMOX_VE_API_TOKEN   USER@REALM!TOKENID=SECRET
//	PMPC_USERNAME        or PROXMOX_VE_USERNAME    ticket auth (with the password)
//	PMPC_PASSWORD        or PROXMOX_VE_PASSWORD
//	PMPC_CA_FILE
//	PMPC_TLS_FINGERPRINT                           SHA-256 of the node's certificate
//	PMPC_INSECURE        or PROXMOX_VE_INSECURE    1/true: skip verification (warns)
//
// Setting a token in the environment clears base's username and password,
// and the other way round, so that the environment's choice wins.
func ApplyEnv(base Config, getenv func(string) string) (Config, error) {
	env := func(names ...string) (string, string) {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v, n
			}
		}
		return "", ""
	}
	c := base
	if v, _ := env("PMPC_ENDPOINT", "PROXMOX_VE_ENDPOINT"); v != "" {
		c.Endpoint = v
	}
	if v, n := env("PMPC_TOKEN", "PROXMOX_VE_API_TOKEN"); v != "" {
		if _, _, err := splitToken(v); err != nil {
			return Config{}, fmt.Errorf("%s: %w", n, err)
		}
		c.Token, c.Username, c.Password = v, "", ""
	}
	user, _ := env("PMPC_USERNAME", "PROXMOX_VE_USERNAME")
	pass, _ := env("PMPC_PASSWORD", "PROXMOX_VE_PASSWORD")
	if user != "" || pass != "" {
		if getenv("PMPC_TOKEN") == "" && getenv("PROXMOX_VE_API_TOKEN") == "" {
			c.Token = ""
		}
		if user != "" {
			c.Username = user
		}
		if pass != "" {
			c.Password = pass
		}
	}
	if v, _ := env("PMPC_CA_FILE"); v != "" {
		c.CAFile = v
	}
	if v, _ := env("PMPC_TLS_FINGERPRINT"); v != "" {
		if _, err := normFingerprint(v); err != nil {
			return Config{}, fmt.Errorf("PMPC_TLS_FINGERPRINT: %w", err)
		}
		c.Fingerprint = v
	}
	if v, n := env("PMPC_INSECURE", "PROXMOX_VE_INSECURE"); v != "" {
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			c.Insecure = true
		case "0", "false", "no", "off":
			c.Insecure = false
		default:
			return Config{}, fmt.Errorf("%s=%q: want 1 or 0", n, v)
		}
	}
	return c, nil
}

// splitToken splits "USER@REALM!TOKENID=SECRET" on its last "=", as PVE does.
// Errors never contain the secret.
func splitToken(tok string) (id, secret string, err error) {
	i := strings.LastIndexByte(tok, '=')
	if i <= 0 || i == len(tok)-1 {
		return "", "", fmt.Errorf("API token must look like USER@REALM!TOKENID=SECRET")
	}
	id, secret = tok[:i], tok[i+1:]
	user, tokid, ok := strings.Cut(id, "!")
	if !ok || tokid == "" || !strings.Contains(user, "@") || strings.HasPrefix(user, "@") || strings.HasSuffix(user, "@") {
		return "", "", fmt.Errorf("API token id %q must look like USER@REALM!TOKENID (then =SECRET)", id)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", "", fmt.Errorf("API token %s=...: contains whitespace", id)
	}
	return id, secret, nil
}

// normFingerprint turns a SHA-256 fingerprint in any common spelling
// (colons, spaces or none; any case) into lowercase hex without separators.
func normFingerprint(s string) (string, error) {
	r := strings.NewReplacer(":", "", " ", "", "-", "")
	h := strings.ToLower(r.Replace(strings.TrimSpace(s)))
	h = strings.TrimPrefix(h, "sha256")
	if len(h) != 64 {
		return "", fmt.Errorf("%q is not a SHA-256 fingerprint (want 32 bytes as hex, e.g. AB:CD:...)", s)
	}
	for _, ch := range h {
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
			return "", fmt.Errorf("%q is not a SHA-256 fingerprint (want 32 bytes as hex, e.g. AB:CD:...)", s)
		}
	}
	return h, nil
}

// BaseURL turns an endpoint as users write it into the API base URL, ending
// in /api2/json, that a Client built with it talks to: a bare "host" or
// "host:port" means https (port 8006 when none is given); a URL keeps its
// scheme (https or http), port and path, and a trailing "/api2/json" is
// accepted. Credentials in the URL are refused.
func BaseURL(endpoint string) (*url.URL, error) {
	e := strings.TrimSpace(endpoint)
	if e == "" {
		return nil, fmt.Errorf("no endpoint: set PMPC_ENDPOINT (e.g. https://pve1:8006)")
	}
	if !strings.Contains(e, "://") {
		host := strings.TrimRight(e, "/")
		if !strings.Contains(host, ":") || strings.HasSuffix(host, "]") {
			host += ":8006"
		}
		e = "https://" + host
	}
	u, err := url.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("endpoint %q: scheme %q is not supported; want e.g. https://pve1:8006", endpoint, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: no host; want e.g. https://pve1:8006", endpoint)
	}
	if u.User != nil {
		return nil, fmt.Errorf("endpoint %q: credentials do not belong in the URL; use PMPC_TOKEN", u.Redacted())
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/api2/json")
	u.Path = p + "/api2/json"
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// CAFileError is a Config.CAFile that cannot be read (Err says why) or
// holds no PEM certificate (Err is nil).
type CAFileError struct {
	File string
	Err  error
}

func (e *CAFileError) Error() string {
	if e.Err != nil {
		return "PMPC_CA_FILE: " + e.Err.Error()
	}
	return "PMPC_CA_FILE " + e.File + ": no PEM certificates in it"
}

func (e *CAFileError) Unwrap() error { return e.Err }
