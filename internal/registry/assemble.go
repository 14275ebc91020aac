package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/catalog"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/site"
)

// Assemble builds the registry in opts.OutDir from what src holds. The
// whole catalog is rebuilt from the source each run; the previous
// catalog.json only gives the serial to follow and what was said about
// versions already published. Nothing is written before everything is
// read, verified and encoded, and catalog.json is written last, so a
// failure leaves the previous catalog in force.
func Assemble(ctx context.Context, src Source, opts Options) (*Result, error) {
	if src == nil || opts.OutDir == "" {
		return nil, errors.New("assembling a registry needs a source and an output folder")
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
	prev, err := readPrevious(filepath.Join(opts.OutDir, catalog.FileName))
	if err != nil {
		return nil, err
	}
	col, err := src.Collect(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Packages: []Package{}, Problems: append([]Problem{}, col.Problems...), Warnings: append([]string{}, col.Warnings...)}
	cat := &catalog.Catalog{CatalogVersion: catalog.FormatVersion, LastUpdated: now, Expires: now.Add(expires), Serial: nextSerial(prev, now)}
	if err := addCandidates(cat, prev, col, now, res); err != nil {
		return nil, err
	}
	sort.Slice(res.Packages, func(i, j int) bool { return res.Packages[i].File < res.Packages[j].File })
	sort.SliceStable(res.Problems, func(i, j int) bool { return res.Problems[i].String() < res.Problems[j].String() })
	if opts.Log != nil {
		for _, p := range res.Problems {
			fmt.Fprintf(opts.Log, "registry-gen: left out: %s\n", p)
		}
	}
	res.Libraries, res.Versions = len(cat.Libraries), len(res.Packages)

	catJSON, err := cat.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding catalog: %w", err)
	}
	// What we write must be what a client accepts.
	if _, err := catalog.Parse(catJSON); err != nil {
		return nil, fmt.Errorf("generated catalog does not validate: %w", err)
	}
	var catSig []byte
	var keys *site.Keys
	if opts.Signer != nil {
		if catSig, err = opts.Signer.SignDetached(bytes.NewReader(catJSON)); err != nil {
			return nil, fmt.Errorf("signing catalog: %w", err)
		}
		res.Signer = opts.Signer.Fingerprint()
		if keys, err = registryKeys(opts.Signer, opts.PublisherKeys); err != nil {
			return nil, err
		}
	} else if opts.WarnUnsigned {
		res.Warnings = append(res.Warnings, "the catalog is not signed: clients will refuse it")
	}
	indexes, err := site.LibraryIndexes(catJSON)
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating output folder: %w", err)
	}
	for _, files := range []map[string][]byte{col.State, col.Published} {
		if err := writeTree(opts.OutDir, files); err != nil {
			return nil, err
		}
	}
	if err := writeIndexes(opts.OutDir, indexes); err != nil {
		return nil, err
	}
	if err := writeKeys(opts.OutDir, keys); err != nil {
		return nil, err
	}
	if opts.Site {
		served := map[string][]byte{}
		for _, files := range []map[string][]byte{indexes, col.Published} {
			for name, data := range files {
				served[name] = data
			}
		}
		if catSig != nil {
			served[catalog.SignatureName] = catSig
		}
		res.Site = filepath.Join(opts.OutDir, SiteDir)
		if err := site.Write(res.Site, catJSON, site.Options{Files: served, Readmes: currentReadmes(cat, col), Keys: keys}); err != nil {
			return nil, err
		}
	}
	catPath, sigPath, err := writeCatalog(opts.OutDir, catJSON, catSig)
	if err != nil {
		return nil, err
	}
	res.Catalog, res.Signature, res.Serial, res.Expires = catPath, sigPath, cat.Serial, cat.Expires
	return res, nil
}

// registryKeys is the keyring a client of the registry needs: the catalog
// key, then the publishers' keys unless they are that same key.
func registryKeys(signer *pgpsign.Signer, publishers []byte) (*site.Keys, error) {
	armored, err := signer.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("exporting the catalog key: %w", err)
	}
	if len(bytes.TrimSpace(publishers)) > 0 {
		kr, err := pgpsign.LoadKeyring(publishers)
		if err != nil {
			return nil, fmt.Errorf("publishers' keys: %w", err)
		}
		if fps := kr.Fingerprints(); len(fps) != 1 || fps[0] != signer.Fingerprint() {
			armored = append(armored, publishers...)
		}
	}
	return &site.Keys{Armored: armored, CatalogSigner: signer.Fingerprint()}, nil
}

// writeKeys writes OUT/keys.asc, or removes a stale one when the catalog
// is no longer signed (its keys would not verify anything).
func writeKeys(outDir string, keys *site.Keys) error {
	p := filepath.Join(outDir, site.KeysFile)
	if keys == nil {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing stale %q: %w", p, err)
		}
		return nil
	}
	return writeTree(outDir, map[string][]byte{site.KeysFile: keys.Armored})
}

// currentReadmes are the READMEs of the versions cat lists as current, by
// library id.
func currentReadmes(cat *catalog.Catalog, col *Collection) map[string][]byte {
	byVersion := map[string][]byte{}
	for _, c := range col.Candidates {
		if c.Readme != nil {
			byVersion[c.Manifest.ID+"@"+c.Manifest.Version] = c.Readme
		}
	}
	out := map[string][]byte{}
	for _, l := range cat.Libraries {
		if md, ok := byVersion[l.ID+"@"+l.Version]; ok {
			out[l.ID] = md
		}
	}
	return out
}

// nextSerial is the serial of a catalog generated at now after prev (nil
// when the output folder has none): one more than the previous serial, and
// never lower than now in Unix seconds. A generator that lost its output
// folder (a fresh checkout, a cold cache) therefore still never hands
// clients a serial lower than one they have seen, as long as its clock
// does not run backwards.
func nextSerial(prev *catalog.Catalog, now time.Time) int64 {
	serial := now.Unix()
	if prev != nil && prev.Serial >= serial {
		serial = prev.Serial + 1
	}
	return serial
}

// addCandidates puts every acceptable candidate into cat and res.Packages.
// A duplicate, a version whose archive changed since the previous catalog,
// or one the catalog refuses either fails the run or is reported and left
// out, as col.ReportConflicts says.
func addCandidates(cat *catalog.Catalog, prev *catalog.Catalog, col *Collection, now time.Time, res *Result) error {
	// Versions are gathered one library at a time (AddVersion re-sorts the
	// whole catalog it is given), then the libraries are joined in id order.
	perLib := map[string]*catalog.Catalog{}
	seen := map[string]*Candidate{}
	for i := range col.Candidates {
		c := &col.Candidates[i]
		m, v := c.Manifest, c.Version
		file := assetname.Package(m.ID, m.Version)
		refuse := func(asset string, err error) error {
			if !col.ReportConflicts {
				return err
			}
			res.Problems = append(res.Problems, Problem{Repository: c.Repository, Tag: c.Tag, Asset: asset, Message: err.Error() + "; left out"})
			return nil
		}
		key := m.ID + "@" + m.Version
		if first, dup := seen[key]; dup {
			if err := refuse(file, fmt.Errorf("%s %s is also published by %s", m.ID, m.Version, first.Where)); err != nil {
				return fmt.Errorf("packages %q and %q are both %s %s", first.Where, c.Where, m.ID, m.Version)
			}
			continue
		}
		pv := previousVersion(prev, m.ID, m.Version)
		if pv != nil && pv.SHA256 != v.SHA256 {
			if err := refuse(file, fmt.Errorf("%w: %s %s was published with sha256 %s, %s has %s (publish a new version instead)",
				ErrChangedVersion, m.ID, m.Version, pv.SHA256, c.Where, v.SHA256)); err != nil {
				return err
			}
			continue
		}
		if pv != nil && !col.SourceDates {
			// Keep what the registry already said about it.
			v.PublishedAt, v.Yanked = pv.PublishedAt, pv.Yanked
		}
		if v.PublishedAt.IsZero() {
			v.PublishedAt = now
		}
		lc := perLib[m.ID]
		if lc == nil {
			lc = &catalog.Catalog{}
			perLib[m.ID] = lc
		}
		if err := lc.AddVersion(m, v); err != nil {
			if err := refuse("", err); err != nil {
				return fmt.Errorf("adding %q: %w", c.Where, err)
			}
			if len(lc.Libraries) == 0 || len(lc.Libraries[0].Versions) == 0 {
				delete(perLib, m.ID)
			}
			continue
		}
		seen[key] = c
		res.Packages = append(res.Packages, Package{File: file, ID: m.ID, Version: m.Version, Size: v.Size, SHA256: v.SHA256,
			Signed: c.Signed, SignatureVerified: c.Verified, New: pv == nil})
	}
	ids := slices.Sorted(maps.Keys(perLib))
	for _, id := range ids {
		cat.Libraries = append(cat.Libraries, perLib[id].Libraries...)
	}
	// A library's downloads are its versions' (GitHub counts each asset).
	for i := range cat.Libraries {
		l := &cat.Libraries[i]
		l.Downloads = 0
		for _, v := range l.Versions {
			l.Downloads += v.Downloads
		}
	}
	return nil
}

func previousVersion(prev *catalog.Catalog, id, version string) *catalog.Version {
	if prev == nil {
		return nil
	}
	l, ok := prev.Find(id)
	if !ok {
		return nil
	}
	v, _ := l.FindVersion(version)
	return v
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

// writeTree writes files (slash paths relative to dir). A file that
// already holds those bytes is left alone: no rewrite, no fsync, and a
// package regenerated in place is not copied onto itself.
func writeTree(dir string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for name := range files {
		if clean := path.Clean(name); clean != name || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("registry file %q: not a plain relative path", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, files[name]) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating %q: %w", filepath.Dir(p), err)
		}
		if err := atomicfile.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeIndexes replaces OUT/index with indexes (keys "index/<id>.json"):
// the folder is the registry's own, so every other *.json in it is a
// library no longer listed and is removed.
func writeIndexes(outDir string, indexes map[string][]byte) error {
	dir := filepath.Join(outDir, IndexDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", dir, err)
	}
	if err := writeTree(outDir, indexes); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if _, keep := indexes[IndexDir+"/"+filepath.Base(p)]; !keep {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("removing stale index %q: %w", p, err)
			}
		}
	}
	return nil
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
		if err := atomicfile.WriteFile(ascPath, catSig, 0o644); err != nil {
			return "", "", err
		}
		sigPath = ascPath
	} else if err := os.Remove(ascPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("removing stale %q: %w", ascPath, err)
	}
	if err := atomicfile.WriteFile(catPath, catJSON, 0o644); err != nil {
		return "", "", err
	}
	return catPath, sigPath, nil
}
