package library

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/fetch"
	"github.com/fredbook/udos-dist/internal/libid"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/regref"
)

// Catalog is a verified catalog.json (internal/catalog) together with where
// its relative URLs resolve from.
type Catalog struct {
	*catalog.Catalog

	// Base is where the catalog's references resolve from, and what may
	// be fetched through them.
	Base regref.Base
}

// Lookup finds a library by id, namespace or short name, with an error
// that tells the user what to do when it is not there.
func (c *Catalog) Lookup(name string) (*catalog.Library, error) {
	ref, err := libid.Parse(name)
	if err != nil {
		return nil, err
	}
	if l, ok := c.Find(ref.ID); ok {
		return l, nil
	}
	return nil, fmt.Errorf("library %q is not in the catalog%s (try 'udos-lib search %s')", name, suggest(name, c.ids()), ref.Short)
}

func (c *Catalog) ids() []string {
	out := make([]string, len(c.Libraries))
	for i, l := range c.Libraries {
		out[i] = l.ID
	}
	return out
}

// emptyCatalog is used where no registry is configured.
func emptyCatalog() *Catalog { return &Catalog{Catalog: &catalog.Catalog{}} }

// Trust carries what decides whether a signed file is accepted.
type Trust struct {
	// Keyring holds the trusted keys; nil means no keyring was given.
	Keyring *pgpsign.Keyring
	// Require refuses unsigned files even without a keyring.
	Require bool
	// KeyringName names the keyring in error messages.
	KeyringName string
}

// ErrUnsigned: a signature was required but the file has none.
var ErrUnsigned = errors.New("not signed")

// Check verifies sig (nil: no signature file) over data. It returns the
// signer's fingerprint, or "" with warn=true when nothing could be checked
// because no keyring was given.
func (t Trust) Check(data []byte, sig []byte) (signer string, warn bool, err error) {
	if t.Keyring == nil {
		if t.Require {
			return "", false, fmt.Errorf("signatures are required (--require-signatures) but no keyring was given: pass --keyring FILE or set UDOS_KEYRING")
		}
		return "", true, nil
	}
	if sig == nil {
		return "", false, fmt.Errorf("%w: there is no .asc signature and a keyring (%s) is in use", ErrUnsigned, t.KeyringName)
	}
	v, err := t.Keyring.VerifyDetached(strings.NewReader(string(data)), strings.NewReader(string(sig)))
	if err != nil {
		if errors.Is(err, pgpsign.ErrUnknownSigner) {
			return "", false, fmt.Errorf("%w (--keyring %s)", err, t.KeyringName)
		}
		return "", false, err
	}
	return v.Fingerprint, false, nil
}

// CatalogLocation returns the catalog URL or path of a registry.
func CatalogLocation(registry string) (string, error) {
	if registry == "" {
		return "", fmt.Errorf("no registry configured: pass --registry URL|DIR, set UDOS_REGISTRY, or put {\"registry\": \"…\"} in library/.udos-lib/config.json")
	}
	if regref.IsRemote(registry) {
		if strings.HasSuffix(registry, ".json") {
			return registry, nil
		}
		return strings.TrimSuffix(registry, "/") + "/" + catalog.FileName, nil
	}
	if strings.HasSuffix(registry, ".json") {
		abs, err := filepath.Abs(registry)
		if err != nil {
			return "", fmt.Errorf("registry %s: %w", registry, err)
		}
		return abs, nil
	}
	fi, err := os.Stat(registry)
	if err != nil {
		return "", fmt.Errorf("registry %s: %w (a registry is an http(s) URL or a folder holding catalog.json)", registry, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("registry %s is not a folder (a registry is an http(s) URL or a folder holding catalog.json)", registry)
	}
	abs, err := filepath.Abs(registry)
	if err != nil {
		return "", fmt.Errorf("registry %s: %w", registry, err)
	}
	return filepath.Join(abs, catalog.FileName), nil
}

// registryBase is where the configured registry's references resolve from.
func (c *Client) registryBase() (regref.Base, error) {
	loc, err := CatalogLocation(c.Registry)
	if err != nil {
		return regref.Base{}, err
	}
	return regref.NewBase(loc)
}

// SyncResult says what a catalog load did.
type SyncResult struct {
	Catalog  *Catalog
	Changed  bool // a new catalog was accepted
	Cached   bool // served from the cache (304 or no refresh asked)
	Requests int
}

// Hard caps on what a registry may make the client read, local or remote:
// a catalog.json of 1,000,000 libraries would otherwise cost gigabytes.
const (
	maxCatalogSize   = 64 << 20
	maxSignatureSize = 1 << 20
)

// LoadCatalog returns the registry's catalog, verified (signature, serial,
// expiry). With refresh, an http registry is asked (conditionally, with the
// cached ETag and Last-Modified); without it, a cached copy is used when
// there is one. A local folder is always read directly. A read-only client
// (Open) uses the cache but never writes it.
func (c *Client) LoadCatalog(ctx context.Context, refresh bool) (*SyncResult, error) {
	return c.loadCatalog(ctx, refresh, true)
}

func (c *Client) loadCatalog(ctx context.Context, refresh, useCache bool) (*SyncResult, error) {
	loc, err := CatalogLocation(c.Registry)
	if err != nil {
		return nil, err
	}
	state, err := readState(c.Paths, c.Registry)
	if err != nil {
		return nil, err
	}
	prev := state
	dir := c.Paths.CacheDir(c.Registry)
	cachedBody, errBody := fetch.ReadFile(filepath.Join(dir, catalog.FileName), maxCatalogSize)
	haveCache := useCache && errBody == nil
	before := c.Fetcher.Requests
	res := &SyncResult{}

	var body, sig []byte
	switch {
	case !regref.IsRemote(loc):
		body, err = fetch.ReadFile(loc, maxCatalogSize)
		if err != nil {
			return nil, fmt.Errorf("reading catalog: %w", err)
		}
		sig, err = fetch.ReadFile(loc+".asc", maxSignatureSize)
		if errors.Is(err, os.ErrNotExist) {
			sig = nil
		} else if err != nil {
			return nil, fmt.Errorf("reading catalog signature: %w", err)
		}
	case haveCache && !refresh:
		body = cachedBody
		sig = readOptional(filepath.Join(dir, catalog.SignatureName))
		res.Cached = true
	default:
		var cond fetch.Validators
		if haveCache {
			cond = fetch.Validators{ETag: state.ETag, LastModified: state.LastModified}
		}
		r, err := c.Fetcher.Get(ctx, loc, cond, maxCatalogSize)
		if err != nil {
			return nil, fmt.Errorf("fetching catalog: %w", err)
		}
		if r.NotModified {
			body = cachedBody
			sig = readOptional(filepath.Join(dir, catalog.SignatureName))
			res.Cached = true
		} else {
			body = r.Body
			state.ETag, state.LastModified = r.ETag, r.LastModified
			sr, err := c.Fetcher.Get(ctx, loc+".asc", fetch.Validators{}, maxSignatureSize)
			var he *fetch.HTTPError
			switch {
			case err == nil:
				sig = sr.Body
			case errors.As(err, &he) && he.Status == 404:
				sig = nil
			default:
				return nil, fmt.Errorf("fetching catalog signature: %w", err)
			}
		}
	}
	res.Requests = c.Fetcher.Requests - before

	cat, err := c.verifyCatalog(loc, body, sig, state)
	if err != nil && res.Cached && regref.IsRemote(loc) {
		// The cached copy no longer passes (a keyring given since, a
		// signature published since without changing catalog.json, an
		// expired copy): ask again without the validators, once.
		if c.ReadOnly {
			return c.loadCatalog(ctx, true, false)
		}
		if err := os.Remove(filepath.Join(dir, catalog.FileName)); err != nil {
			return nil, fmt.Errorf("dropping the cached catalog: %w", err)
		}
		return c.loadCatalog(ctx, true, true)
	}
	if err != nil {
		return nil, err
	}
	if !res.Cached {
		res.Changed = cat.Serial != state.Serial || (regref.IsRemote(loc) && !haveCache)
	}
	if !res.Cached && !c.ReadOnly {
		if regref.IsRemote(loc) {
			if err := atomicfile.WriteFile(filepath.Join(dir, catalog.FileName), body, 0o644); err != nil {
				return nil, err
			}
			ascPath := filepath.Join(dir, catalog.SignatureName)
			if sig != nil {
				if err := atomicfile.WriteFile(ascPath, sig, 0o644); err != nil {
					return nil, err
				}
			} else {
				_ = os.Remove(ascPath)
			}
		}
		if cat.Serial > state.Serial {
			state.Serial = cat.Serial
		}
		state.Signed = cat.Signer != nil
		if state != prev {
			if err := writeState(c.Paths, state); err != nil {
				return nil, err
			}
		}
	}
	res.Catalog = cat
	return res, nil
}

func readOptional(path string) []byte {
	b, err := fetch.ReadFile(path, maxSignatureSize)
	if err != nil {
		return nil
	}
	return b
}

func (c *Client) verifyCatalog(loc string, body, sig []byte, state RegistryState) (*Catalog, error) {
	seen := catalog.TrustState{Serial: state.Serial}
	var checked *catalog.Catalog
	var err error
	switch {
	case c.Trust.Keyring != nil:
		if sig == nil {
			return nil, fmt.Errorf("catalog %s: signature check failed: %w: there is no catalog.json.asc and a keyring (%s) is in use", loc, ErrUnsigned, c.Trust.KeyringName)
		}
		checked, err = catalog.Verify(body, sig, c.Trust.Keyring, seen, c.now())
	case c.Trust.Require:
		_, _, err = c.Trust.Check(body, sig)
		return nil, fmt.Errorf("catalog %s: %w", loc, err)
	default:
		c.warnOnce("no keyring given: the catalog's signature is not checked (pass --keyring FILE or set UDOS_KEYRING; --require-signatures makes this an error)")
		checked, err = catalog.ParseUnverified(body, seen, c.now())
	}
	switch {
	case err == nil:
	case errors.Is(err, catalog.ErrBadSignature):
		if errors.Is(err, pgpsign.ErrUnknownSigner) {
			return nil, fmt.Errorf("catalog %s: signature check failed: %w (--keyring %s)", loc, err, c.Trust.KeyringName)
		}
		return nil, fmt.Errorf("catalog %s: signature check failed: %w", loc, err)
	case errors.Is(err, catalog.ErrSerialRollback):
		return nil, fmt.Errorf("catalog %s: refused: %w (if the registry was reset on purpose, remove %s)", loc, err, c.Paths.CacheDir(c.Registry))
	default:
		return nil, fmt.Errorf("catalog %s: refused: %w", loc, err)
	}
	base, err := regref.NewBase(loc)
	if err != nil {
		return nil, err
	}
	return &Catalog{Catalog: checked, Base: base}, nil
}
