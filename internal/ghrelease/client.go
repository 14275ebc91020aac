// Package ghrelease is the one GitHub layer udos-dist shares: the actions
// (build-variant, sonic-iso, publish-library), the registry generator and
// `udos-lib share` all talk to GitHub through it.
//
// It wraps go-github with a transport that retries what is safe to retry
// (exponential backoff with jitter on 5xx and dropped connections for
// idempotent requests), waits out rate limits within a bound, answers
// repeated GETs from an ETag cache (a 304 costs no rate limit), and never
// logs the token. Publish is the resumable release flow: draft, upload,
// verify, publish last.
package ghrelease

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fredbook/udos-dist/internal/retry"
	"github.com/google/go-github/v89/github"
)

// DefaultAPIURL is used when Config.APIURL is empty.
const DefaultAPIURL = "https://api.github.com/"

// Config configures a Client. Only Token is needed for github.com.
type Config struct {
	// APIURL is the REST base, as in GITHUB_API_URL (default
	// https://api.github.com/; GHES: https://HOST/api/v3).
	APIURL string
	// UploadURL is the upload base. Derived when empty: uploads.github.com
	// for api.github.com, else <APIURL without /api/v3>/api/uploads/ as
	// GitHub Enterprise Server (and ghreplica) serve it.
	UploadURL string
	// Token authenticates every request to the API and upload hosts (and
	// only those: redirects to storage hosts never carry it).
	Token string
	// HTTPClient supplies the underlying transport (default
	// http.DefaultTransport); its Timeout, if any, is kept.
	HTTPClient *http.Client
	UserAgent  string
	// Logf receives retry and wait notices; nil discards them.
	Logf func(format string, args ...any)
	// Clock defaults to retry.SystemClock(); tests pass one whose Sleep
	// returns at once.
	Clock retry.Clock
	// MaxRetries bounds retries of one request (and of one asset upload in
	// Publish). 0 means the default, 5; negative means none.
	MaxRetries int
	// BaseBackoff is the first retry delay, doubled each retry up to
	// MaxBackoff, with jitter (defaults 1s and 30s).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxWait bounds a single rate-limit wait (default 15m). A wait beyond
	// it fails with *RateLimitError rather than blocking a workflow for an
	// hour.
	MaxWait time.Duration
	// RequestTimeout bounds each attempt of an API call that is neither an
	// upload nor a download (default none: the context rules).
	RequestTimeout time.Duration
	// ETags caches conditional GETs across calls (and runs, if persistent).
	ETags ETagStore
}

// Stats counts what went over the wire.
type Stats struct {
	Requests       int           // HTTP attempts sent
	Retries        int           // attempts that repeated an earlier one
	NotModified    int           // 304 answers served from the ETag cache
	RateLimitWaits int           // rate-limit waits taken
	Waited         time.Duration // total time slept for retries and limits
}

// Client is a GitHub client for releases, assets and dispatches.
type Client struct {
	gh   *github.Client
	http *http.Client
	tr   *transport
	cfg  Config
	logf func(string, ...any)
}

// New builds a Client. It does not contact GitHub.
func New(cfg Config) (*Client, error) {
	api, upload, err := resolveURLs(cfg.APIURL, cfg.UploadURL)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = retry.SystemClock()
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 15 * time.Minute
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "udos-dist"
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	au, _ := url.Parse(api)
	uu, _ := url.Parse(upload)
	tr := &transport{
		base: base, token: cfg.Token, authHosts: map[string]bool{au.Host: true, uu.Host: true},
		clock: cfg.Clock, maxRetries: cfg.MaxRetries,
		backoff: retry.Backoff{Base: cfg.BaseBackoff, Max: cfg.MaxBackoff, Jitter: true},
		maxWait: cfg.MaxWait, timeout: cfg.RequestTimeout, etags: cfg.ETags, logf: logf, stats: &statsBox{},
	}
	hc.Transport = tr
	gh, err := github.NewClient(
		github.WithHTTPClient(hc),
		github.WithURLs(&api, &upload),
		github.WithUserAgent(cfg.UserAgent),
		// The transport handles rate limits with the injected clock;
		// go-github's own check uses the wall clock.
		github.WithDisableRateLimitCheck(),
	)
	if err != nil {
		return nil, fmt.Errorf("creating GitHub client: %w", err)
	}
	return &Client{gh: gh, http: hc, tr: tr, cfg: cfg, logf: logf}, nil
}

// resolveURLs normalises the API base and derives the upload base.
func resolveURLs(apiURL, uploadURL string) (string, string, error) {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("invalid GitHub API URL %q: want http(s)://host[/path]", apiURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	api := u.String()
	if uploadURL == "" {
		up := *u
		if strings.EqualFold(u.Host, "api.github.com") {
			up.Host = "uploads.github.com"
			up.Path = "/"
		} else {
			up.Path = strings.TrimSuffix(up.Path, "api/v3/") + "api/uploads/"
		}
		return api, up.String(), nil
	}
	v, err := url.Parse(uploadURL)
	if err != nil || (v.Scheme != "http" && v.Scheme != "https") || v.Host == "" {
		return "", "", fmt.Errorf("invalid GitHub upload URL %q", uploadURL)
	}
	if !strings.HasSuffix(v.Path, "/") {
		v.Path += "/"
	}
	return api, v.String(), nil
}

// GitHub exposes the underlying go-github client (sharing the retrying,
// caching transport) for calls this package does not wrap.
func (c *Client) GitHub() *github.Client { return c.gh }

// HTTPClient is the retrying, authenticating HTTP client.
func (c *Client) HTTPClient() *http.Client { return c.http }

// APIURL reports the resolved REST base (with a trailing slash).
func (c *Client) APIURL() string { return c.gh.BaseURL() }

// UploadURL reports the resolved upload base (with a trailing slash).
func (c *Client) UploadURL() string { return c.gh.UploadURL() }

// Stats returns a snapshot of the request counters.
func (c *Client) Stats() Stats { return c.tr.stats.get() }

type statsBox struct {
	mu sync.Mutex
	s  Stats
}

func (b *statsBox) add(f func(*Stats)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(&b.s)
}

func (b *statsBox) get() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s
}

// IsNotFound reports whether err is GitHub's 404.
func IsNotFound(err error) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound
}

// isValidation reports whether err is a 422 with the given error code and field.
func isValidation(err error, code, field string) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	for _, e := range er.Errors {
		if e.Code == code && e.Field == field {
			return true
		}
	}
	return false
}
