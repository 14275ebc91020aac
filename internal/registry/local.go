// Package registry builds a library registry: catalog.json (optionally
// signed), the package files beside it and one index file per library, the
// layout a static host (GitHub Pages, a plain folder) serves to udos-lib.
//
// This file is the local mode: the packages come from a folder of
// `.udos-package` files. Layout of the output folder:
//
//	OUT/catalog.json
//	OUT/catalog.json.asc                     (when a signing key is given)
//	OUT/packages/<id>-v<ver>.udos-package    (+ .asc when the input had one)
//	OUT/packages/<id>-v<ver>.manifest.json   (the package's manifest, as stored)
//	OUT/index/<id>.json                      (the library's catalog entry)
package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/atomicfile"

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
)

// Options drive Generate.
type Options struct {
	// FromDir holds the input: *.udos-package files and their .asc signatures.
	FromDir string
	// OutDir receives the registry; it is created if missing.
	OutDir string
	// BaseURL, when set, makes every URL in the catalog absolute
	// (BaseURL + "/packages/..."); otherwise URLs are relative to the catalog.
	BaseURL string
	// Signer, when set, signs catalog.json into catalog.json.asc.
	Signer *pgpsign.Signer
	// Keyring, when set, is the package signing policy: every package must
	// have a .asc that verifies against it.
	Keyring *pgpsign.Keyring
	// RequireSignatures refuses packages without a .asc even without a Keyring.
	RequireSignatures bool
	// Expires is the catalog's lifetime; zero means DefaultExpires.
	Expires time.Duration
	// Now is the generation time (last_updated; published_at of versions
	// seen for the first time). Zero means time.Now().
	Now time.Time
}

// Package describes one package that entered the catalog.
type Package struct {
	File              string `json:"file"`
	ID                string `json:"id"`
	Version           string `json:"version"`
	Size              int64  `json:"size"`
	SHA256            string `json:"sha256"`
	Signed            bool   `json:"signed"`             // a .asc was published beside it
	SignatureVerified bool   `json:"signature_verified"` // and it verified against Options.Keyring
	New               bool   `json:"new"`                // not in the previous catalog
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
	// Warnings: things a maintainer should see (unsigned packages, …).
	Warnings []string `json:"warnings"`
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

type input struct {
	path   string
	pkg    *udospkg.Package
	sig    []byte // .asc contents, nil when absent
	sigVer bool
}

// Generate builds the registry in opts.OutDir from the packages in
// opts.FromDir. Every package is read and fully verified (udospkg.Verify)
// before anything is written; the serial is the previous catalog's plus
// one (1 for a new registry). catalog.json is written last, so a failure
// leaves the previous catalog in force.
func Generate(opts Options) (*Result, error) {
	if opts.FromDir == "" || opts.OutDir == "" {
		return nil, errors.New("both the input folder and the output folder are required")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	expires := opts.Expires
	if expires == 0 {
		expires = DefaultExpires
	}
	if expires < 0 {
		return nil, fmt.Errorf("catalog lifetime %s must be positive", expires)
	}
	res := &Result{Warnings: []string{}}

	prev, err := readPrevious(filepath.Join(opts.OutDir, catalog.FileName))
	if err != nil {
		return nil, err
	}
	inputs, warnings, err := readInputs(opts)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, warnings...)

	cat := &catalog.Catalog{CatalogVersion: catalog.FormatVersion, LastUpdated: now, Expires: now.Add(expires).Truncate(time.Second), Serial: 1}
	if prev != nil {
		cat.Serial = prev.Serial + 1
	}
	for _, in := range inputs {
		m := in.pkg.Manifest
		file := filepath.Base(in.path)
		v := catalog.Version{
			URL:         urlFor(opts.BaseURL, PackagesDir+"/"+file),
			Size:        in.pkg.Size,
			SHA256:      in.pkg.SHA256,
			SHA512:      in.pkg.SHA512,
			ManifestURL: urlFor(opts.BaseURL, PackagesDir+"/"+manifestName(m)),
			PublishedAt: now,
		}
		if in.sig != nil {
			v.SignatureURL = urlFor(opts.BaseURL, PackagesDir+"/"+file+".asc")
		}
		isNew := true
		if prev != nil {
			if pl, ok := prev.Find(m.ID); ok {
				if pv, ok := pl.FindVersion(m.Version); ok {
					if pv.SHA256 != v.SHA256 {
						return nil, fmt.Errorf("%w: %s %s was published with sha256 %s, %s has %s (bump the version instead)",
							ErrChangedVersion, m.ID, m.Version, pv.SHA256, in.path, v.SHA256)
					}
					// Keep what the registry already said about it.
					v.PublishedAt, v.Yanked, isNew = pv.PublishedAt, pv.Yanked, false
				}
			}
		}
		if err := cat.AddVersion(m, v); err != nil {
			return nil, fmt.Errorf("adding %q: %w", in.path, err)
		}
		res.Packages = append(res.Packages, Package{
			File: file, ID: m.ID, Version: m.Version, Size: in.pkg.Size, SHA256: in.pkg.SHA256,
			Signed: in.sig != nil, SignatureVerified: in.sigVer, New: isNew,
		})
		res.Versions++
	}
	res.Libraries = len(cat.Libraries)
	catJSON, err := cat.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding catalog: %w", err)
	}
	// What we write must be what a client accepts.
	if _, err := catalog.Parse(catJSON); err != nil {
		return nil, fmt.Errorf("generated catalog does not validate: %w", err)
	}
	var catSig []byte
	if opts.Signer != nil {
		catSig, err = opts.Signer.SignDetached(bytes.NewReader(catJSON))
		if err != nil {
			return nil, fmt.Errorf("signing catalog: %w", err)
		}
		res.Signer = opts.Signer.Fingerprint()
	}

	if err := writeOutput(opts.OutDir, inputs, cat); err != nil {
		return nil, err
	}
	catPath, sigPath, err := writeCatalog(opts.OutDir, catJSON, catSig)
	if err != nil {
		return nil, err
	}
	res.Signature = sigPath
	res.Catalog, res.Serial, res.Expires = catPath, cat.Serial, cat.Expires
	return res, nil
}

// writeCatalog publishes catalog.json and its signature in OUT. The
// signature goes first: a reader that sees the new catalog then finds its
// signature (the reverse would briefly pair the new signature with the old
// catalog, which is refused either way). Without a signature a stale one is
// removed, since it would make clients refuse the new catalog. sigPath is
// empty when the catalog is unsigned.
func writeCatalog(outDir string, catJSON, catSig []byte) (catPath, sigPath string, err error) {
	catPath = filepath.Join(outDir, catalog.FileName)
	ascPath := filepath.Join(outDir, catalog.SignatureName)
	if catSig != nil {
		if err := writeFile(ascPath, catSig); err != nil {
			return "", "", err
		}
		sigPath = ascPath
	} else if err := os.Remove(ascPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("removing stale %q: %w", ascPath, err)
	}
	if err := writeFile(catPath, catJSON); err != nil {
		return "", "", err
	}
	return catPath, sigPath, nil
}

func manifestName(m *udospkg.Manifest) string {
	return m.ID + "-v" + m.Version + ".manifest.json"
}

func urlFor(base, rel string) string {
	if base == "" {
		return rel
	}
	return strings.TrimSuffix(base, "/") + "/" + rel
}

// readPrevious loads the catalog a previous run wrote, for its serial and
// publication dates. It is parsed without trust checks (it is our own
// output), but an unreadable one is an error: guessing a serial could roll
// clients back.
func readPrevious(path string) (*catalog.Catalog, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading previous catalog: %w", err)
	}
	c, err := catalog.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("previous catalog %q is not valid, so its serial is unknown (fix or remove it): %w", path, err)
	}
	return c, nil
}

func readInputs(opts Options) ([]*input, []string, error) {
	dirEntries, err := os.ReadDir(opts.FromDir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading packages: %w", err)
	}
	var paths []string
	for _, e := range dirEntries {
		if strings.HasSuffix(e.Name(), udospkg.Extension) {
			paths = append(paths, filepath.Join(opts.FromDir, e.Name()))
		}
	}
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("%w in %q", ErrNoPackages, opts.FromDir)
	}
	sort.Strings(paths)
	var inputs []*input
	var warnings []string
	seen := map[string]string{}
	for _, p := range paths {
		pkg, err := udospkg.Open(p)
		if err != nil {
			return nil, nil, err
		}
		if err := pkg.Verify(); err != nil {
			return nil, nil, fmt.Errorf("package %q: %w", p, err)
		}
		m := pkg.Manifest
		if base := filepath.Base(p); base != m.FileName() {
			return nil, nil, fmt.Errorf("package %q holds %s %s and must be named %q", p, m.ID, m.Version, m.FileName())
		}
		key := m.ID + "@" + m.Version
		if other, dup := seen[key]; dup {
			return nil, nil, fmt.Errorf("packages %q and %q are both %s %s", other, p, m.ID, m.Version)
		}
		seen[key] = p
		in := &input{path: p, pkg: pkg}
		sig, err := os.ReadFile(p + ".asc")
		switch {
		case err == nil:
			in.sig = sig
			if opts.Keyring != nil {
				if _, err := opts.Keyring.VerifyDetached(bytes.NewReader(pkg.Bytes()), bytes.NewReader(sig)); err != nil {
					return nil, nil, fmt.Errorf("package %q: signature %q: %w", p, p+".asc", err)
				}
				in.sigVer = true
			}
		case errors.Is(err, fs.ErrNotExist):
			if opts.Keyring != nil || opts.RequireSignatures {
				return nil, nil, fmt.Errorf("package %q has no signature %q, and signatures are required", p, filepath.Base(p)+".asc")
			}
			warnings = append(warnings, fmt.Sprintf("%s has no signature (%s.asc): listed unsigned", filepath.Base(p), filepath.Base(p)))
		default:
			return nil, nil, fmt.Errorf("reading signature of %q: %w", p, err)
		}
		inputs = append(inputs, in)
	}
	return inputs, warnings, nil
}

func writeFile(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o644)
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// writeOutput copies the packages, signatures and manifests into
// OUT/packages and writes OUT/index, removing index files of libraries no
// longer in the catalog.
func writeOutput(out string, inputs []*input, cat *catalog.Catalog) error {
	pkgDir := filepath.Join(out, PackagesDir)
	idxDir := filepath.Join(out, IndexDir)
	for _, d := range []string{pkgDir, idxDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %q: %w", d, err)
		}
	}
	for _, in := range inputs {
		base := filepath.Base(in.path)
		dst := filepath.Join(pkgDir, base)
		if !sameFile(in.path, dst) {
			if err := writeFile(dst, in.pkg.Bytes()); err != nil {
				return err
			}
		}
		if in.sig != nil && !sameFile(in.path+".asc", dst+".asc") {
			if err := writeFile(dst+".asc", in.sig); err != nil {
				return err
			}
		}
		if err := writeFile(filepath.Join(pkgDir, manifestName(in.pkg.Manifest)), in.pkg.ManifestJSON); err != nil {
			return err
		}
	}
	keep := map[string]bool{}
	for i := range cat.Libraries {
		l := &cat.Libraries[i]
		data, err := catalog.MarshalLibrary(l)
		if err != nil {
			return fmt.Errorf("encoding index of %s: %w", l.ID, err)
		}
		name := l.ID + ".json"
		keep[name] = true
		if err := writeFile(filepath.Join(idxDir, name), data); err != nil {
			return err
		}
	}
	old, err := filepath.Glob(filepath.Join(idxDir, "lib-*.json"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if !keep[filepath.Base(p)] {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("removing stale index %q: %w", p, err)
			}
		}
	}
	return nil
}
