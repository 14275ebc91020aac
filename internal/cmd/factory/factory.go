// Package factory builds the dependencies every udos-lib command shares
// (streams, environment, HTTP client, the library client) from the global
// flags, so commands receive them instead of reaching for globals.
package factory

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/fetch"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/iostreams"
	"github.com/fredbook/udos-dist/internal/library"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/store"
)

// Global holds the flags accepted before or after any command.
type Global struct {
	Root              string
	Registry          string
	Keyring           string
	JSON              bool
	RequireSignatures bool
	// Quiet drops everything meant for a person but errors (-q).
	Quiet bool
	// Verbose says every retry and step on stderr (-v).
	Verbose bool
}

// Factory carries shared dependencies.
type Factory struct {
	// Ctx is cancelled on SIGINT/SIGTERM.
	Ctx        context.Context
	IO         *iostreams.IOStreams
	Getenv     func(string) string
	HTTPClient *http.Client
	Now        func() time.Time
	Global     *Global
	// Hook is passed to the library client (test pauses).
	Hook store.Hook
	// UserConfigDir returns the user's config folder (os.UserConfigDir).
	UserConfigDir func() (string, error)
}

// RootDir returns the uDOS root: --root, then UDOS_ROOT, then the current folder.
func (f *Factory) RootDir() (string, error) {
	r := f.Global.Root
	if r == "" {
		r = f.Getenv("UDOS_ROOT")
	}
	if r == "" {
		r = "."
	}
	abs, err := filepath.Abs(r)
	if err != nil {
		return "", fmt.Errorf("uDOS root %q: %w", r, err)
	}
	return abs, nil
}

// Client builds the library client from flags, environment and config files.
func (f *Factory) Client() (*library.Client, error) {
	root, err := f.RootDir()
	if err != nil {
		return nil, err
	}
	paths := store.Paths{Root: root}
	cfg, err := library.ReadClientConfig(paths.ClientConfig())
	if err != nil {
		return nil, err
	}
	var user library.ClientConfig
	if f.UserConfigDir != nil {
		if dir, err := f.UserConfigDir(); err == nil {
			if user, err = library.ReadClientConfig(filepath.Join(dir, "udos-lib", "config.json")); err != nil {
				return nil, err
			}
		}
	}
	registry := first(f.Global.Registry, f.Getenv("UDOS_REGISTRY"), cfg.Registry, user.Registry)
	keyring := first(f.Global.Keyring, f.Getenv("UDOS_KEYRING"), cfg.Keyring, user.Keyring)

	trust := library.Trust{Require: f.Global.RequireSignatures, KeyringName: keyring}
	if keyring != "" {
		kr, err := pgpsign.LoadKeyringFile(keyring)
		if err != nil {
			return nil, fmt.Errorf("loading the keyring (--keyring %s): %w", keyring, err)
		}
		trust.Keyring = kr
	}
	fetcher := fetch.New(f.HTTPClient)
	// Test and slow-network knobs; documented in docs/LIBRARY-MANAGEMENT.md.
	if d, err := time.ParseDuration(f.Getenv("UDOS_LIB_HTTP_TIMEOUT")); err == nil && d > 0 {
		fetcher.Timeout = d
	}
	if d, err := time.ParseDuration(f.Getenv("UDOS_LIB_RETRY_BACKOFF")); err == nil && d >= 0 {
		fetcher.Backoff.Base = d
	}
	// Retries are said on stderr: the first one always, every one with -v.
	told := false
	fetcher.OnRetry = func(loc string, attempt, attempts int, wait time.Duration, err error) {
		switch {
		case f.Global.Verbose:
			fmt.Fprintf(f.IO.ErrOut, "udos-lib: %v; retrying in %s (attempt %d of %d)\n", err, wait, attempt, attempts)
		case !told:
			told = true
			fmt.Fprintf(f.IO.ErrOut, "udos-lib: %v; retrying in %s (attempt %d of %d; -v shows every retry)\n", err, wait, attempt, attempts)
		}
	}
	c := &library.Client{
		Paths:    paths,
		Registry: registry,
		Trust:    trust,
		Fetcher:  fetcher,
		Now:      f.Now,
		Warn:     func(m string) { fmt.Fprintf(f.IO.ErrOut, "udos-lib: warning: %s\n", m) },
		Info:     func(m string) { fmt.Fprintf(f.IO.ErrOut, "%s\n", m) },
		Progress: func(label string, total int64) library.ProgressSink { return f.IO.NewProgress(label, total) },
		Hook:     f.Hook,
	}
	if d, err := time.ParseDuration(f.Getenv("UDOS_LIB_LOCK_TIMEOUT")); err == nil && d > 0 {
		c.LockTimeout = d
	}
	return c, nil
}

// GitHub builds the GitHub client of udos-lib's release sources (core,
// sonic update): the API and token from the environment as Actions sets
// them, the factory's HTTP client; etags (nil: none) makes its requests
// conditional.
func (f *Factory) GitHub(etags ghrelease.ETagStore) (*ghrelease.Client, error) {
	cfg := ghrelease.ConfigFromEnv(f.Getenv)
	cfg.HTTPClient = f.HTTPClient
	cfg.UserAgent = "udos-lib"
	cfg.ETags = etags
	return ghrelease.New(cfg)
}

func first(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// New returns the factory of the real process.
func New(io *iostreams.IOStreams) *Factory {
	return &Factory{
		Ctx:           context.Background(),
		IO:            io,
		Getenv:        os.Getenv,
		HTTPClient:    &http.Client{},
		Now:           time.Now,
		Global:        &Global{},
		UserConfigDir: os.UserConfigDir,
	}
}

// Inspect builds a read-only client on a uDOS root (list, check-updates):
// no lock taken, nothing written into the root.
func (f *Factory) Inspect() (*library.Client, func(), error) { return f.open(true) }

// Browse builds a read-only client for the catalog commands (search, info),
// which work outside a uDOS installation too.
func (f *Factory) Browse() (*library.Client, func(), error) { return f.open(false) }

func (f *Factory) open(requireRoot bool) (*library.Client, func(), error) {
	c, err := f.Client()
	if err != nil {
		return nil, nil, err
	}
	if err := c.Open(requireRoot); err != nil {
		return nil, nil, err
	}
	return c, func() {}, nil
}

// Begin builds the client, takes the root's lock and runs recovery. The
// returned function releases the lock.
func (f *Factory) Begin() (*library.Client, func(), error) {
	c, err := f.Client()
	if err != nil {
		return nil, nil, err
	}
	if err := c.Begin(f.Ctx); err != nil {
		return nil, nil, err
	}
	return c, c.End, nil
}
