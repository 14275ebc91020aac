// Package registry assembles a library registry: catalog.json (optionally
// signed), one index file per library, the files clients fetch beside them
// and the Jekyll site, the layout a static host (GitHub Pages, a plain
// folder) serves to udos-lib.
//
// One assembler (Assemble) serves both modes of registry-gen; they differ
// only in the Source the packages come from: DirSource reads a folder of
// .udos-package files, GitHubSource the GitHub Releases a registry config
// names. Layout of the output folder:
//
//	OUT/catalog.json, OUT/catalog.json.asc  (the signature when a key is given)
//	OUT/keys.asc                             (the keys clients trust, when signed)
//	OUT/index/<id>.json                      (one library's catalog entry)
//	OUT/packages/…                           (DirSource: the packages, their .asc and manifests)
//	OUT/.registry-cache.json                 (GitHubSource: ETags and verified packages)
//	OUT/site/                                (the Jekyll source; Options.Site)
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/udospkg"
)

// DefaultExpires is how long a generated catalog stays valid.
const DefaultExpires = 30 * 24 * time.Hour

// Folder names inside the output folder.
const (
	PackagesDir = "packages"
	IndexDir    = "index"
	SiteDir     = "site"
)

// A Source yields the package versions a registry lists.
type Source interface {
	// Collect reads and verifies every package version the source holds.
	// An error means the source could not be read as a whole (a missing
	// folder, GitHub unreachable): the run stops and the previous
	// registry stays in force.
	Collect(ctx context.Context) (*Collection, error)
}

// Collection is what a Source found.
type Collection struct {
	Candidates []Candidate
	// Problems are versions the source left out, and why.
	Problems []Problem
	// Warnings are things a maintainer should see (unsigned packages, …).
	Warnings []string
	// Published are files clients fetch next to the catalog (slash paths
	// relative to the output folder, e.g. "packages/x.udos-package"): they
	// are written into the output folder and served by the site.
	Published map[string][]byte
	// State is the source's own memory between runs (slash paths relative
	// to the output folder): written there, never served.
	State map[string][]byte
	// ReportConflicts: a version that conflicts with the previous catalog
	// or with another candidate is reported in Problems and left out, as
	// for a release someone else owns; otherwise it fails the run, as for
	// a folder the maintainer fills.
	ReportConflicts bool
	// SourceDates: a candidate's PublishedAt and Yanked are the source's
	// word (a GitHub release says both). Otherwise they are kept from the
	// previous catalog, and a version seen for the first time is dated by
	// the generation time.
	SourceDates bool
}

// Candidate is one package version a Source offers.
type Candidate struct {
	Manifest *udospkg.Manifest
	// Version carries the URLs, size and digests (and, with SourceDates,
	// PublishedAt and Yanked); the assembler fills version and
	// dependencies from the manifest.
	Version catalog.Version
	// Signed: a signature is published beside the package; Verified: it
	// verified against the publishers' keyring.
	Signed, Verified bool
	// Readme is the package's docs/README.md (nil when it has none), shown
	// on the library's page of the site when this is the current version.
	Readme []byte
	// Where names the candidate in messages: a file's path, or
	// "owner/repo@tag".
	Where string
	// Repository and Tag locate a Problem about it (GitHub mode).
	Repository, Tag string
}

// Options drive Assemble.
type Options struct {
	// OutDir receives the registry; it is created if missing. Its previous
	// catalog.json decides the serial and keeps publication dates.
	OutDir string
	// Signer, when set, signs catalog.json into catalog.json.asc.
	Signer *pgpsign.Signer
	// Expires is the catalog's lifetime; zero means DefaultExpires.
	Expires time.Duration
	// Now is the generation time (last_updated, the serial's floor,
	// published_at of versions first seen). Zero means time.Now().
	Now time.Time
	// Site writes OUT/site, the Jekyll source of the registry's site.
	Site bool
	// PublisherKeys are the publishers' armored public keys (the keyring
	// package signatures were verified with). With a Signer, they and the
	// catalog key are published as OUT/keys.asc, the keyring a client of
	// this registry needs, and shown by fingerprint on the site.
	PublisherKeys []byte
	// WarnUnsigned adds a warning when the catalog is not signed: the
	// clients of a public registry refuse an unsigned catalog.
	WarnUnsigned bool
	// Log receives one line per version left out (nil discards).
	Log io.Writer
}

// Package describes one package that entered the catalog.
type Package struct {
	File              string `json:"file"`
	ID                string `json:"id"`
	Version           string `json:"version"`
	Size              int64  `json:"size"`
	SHA256            string `json:"sha256"`
	Signed            bool   `json:"signed"`             // a .asc was published beside it
	SignatureVerified bool   `json:"signature_verified"` // and it verified against the keyring
	New               bool   `json:"new"`                // not in the previous catalog
}

// Problem is a version left out of the catalog, and why.
type Problem struct {
	Repository string `json:"repository,omitempty"`
	Tag        string `json:"tag,omitempty"`
	Asset      string `json:"asset,omitempty"`
	Message    string `json:"message"`
}

func (p Problem) String() string {
	where := p.Repository
	if p.Tag != "" {
		where += "@" + p.Tag
	}
	if p.Asset != "" {
		where += " " + p.Asset
	}
	return where + ": " + p.Message
}

// Result summarises a generation.
type Result struct {
	Catalog   string    `json:"catalog"`             // path of catalog.json
	Signature string    `json:"signature,omitempty"` // path of catalog.json.asc
	Signer    string    `json:"signer,omitempty"`    // fingerprint of the catalog key
	Serial    int64     `json:"serial"`
	Expires   time.Time `json:"expires"`
	Libraries int       `json:"libraries"`
	Versions  int       `json:"versions"`
	Packages  []Package `json:"packages"`
	Problems  []Problem `json:"problems"`
	Warnings  []string  `json:"warnings"`
	// Site is the path of the Jekyll source, when written.
	Site string `json:"site,omitempty"`
}

// WriteSummary writes a short human summary of r to w.
func (r *Result) WriteSummary(w io.Writer) error {
	signed := "unsigned"
	if r.Signature != "" {
		signed = "signed by " + r.Signer
	}
	_, err := fmt.Fprintf(w, "registry-gen: %s: serial %d, %d libraries, %d versions, %s, expires %s\n",
		r.Catalog, r.Serial, r.Libraries, r.Versions, signed, r.Expires.UTC().Format(time.RFC3339))
	for _, wr := range r.Warnings {
		if err == nil {
			_, err = fmt.Fprintf(w, "registry-gen: warning: %s\n", wr)
		}
	}
	return err
}

// ErrNoPackages: the input folder holds no .udos-package file.
var ErrNoPackages = errors.New("no .udos-package files found")

// ErrChangedVersion: a version already in the previous catalog now has a
// different archive. Published versions are immutable: bump the version.
var ErrChangedVersion = errors.New("published version changed")
