// Package verify checks a downloaded release artifact (an archive, ISO,
// package, SBOM, manifest…) the way a careful user would by hand: its
// detached signature against the keyring, and its size and digests against
// every signed list that names it — the release manifest, SHA256SUMS and
// SHA512SUMS — or the .sha256/.sha512 sidecars. `udos-lib verify`.
package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/relmanifest"
)

// Input names what to check.
type Input struct {
	File string
	// Manifest is a release manifest or a SHA256SUMS/SHA512SUMS list; ""
	// looks for them (and for sidecars) beside File.
	Manifest string
	// Signature is File's detached signature; "" means File + ".asc".
	Signature string
	Keyring   *pgpsign.Keyring
}

// Verdict is the outcome of a check that passed.
type Verdict struct {
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
	// Checked lists each comparison made, e.g. "sha256 = SHA256SUMS (signed)".
	Checked []string `json:"checked"`
	// Signer is the key that signed File.
	Signer string `json:"signer"`
	// SignerID is the signing key's user id.
	SignerID string `json:"signer_id"`
}

// Line is the one-line verdict.
func (v *Verdict) Line() string {
	return fmt.Sprintf("OK %s: %s; signature by %s (%s)", filepath.Base(v.File), strings.Join(v.Checked, ", "), v.SignerID, v.Signer)
}

// ErrFailed wraps every reason a file does not verify.
var ErrFailed = errors.New("FAILED")

func failf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFailed, fmt.Sprintf(format, args...))
}

// claim is what one source says the file is.
type claim struct {
	source string
	size   int64 // -1: not stated
	sha256 string
	sha512 string
}

// File checks in.File.
func File(in Input) (*Verdict, error) {
	if in.Keyring == nil {
		return nil, fmt.Errorf("no keyring: pass --keyring FILE (or set UDOS_KEYRING) with the publisher's public key")
	}
	name := filepath.Base(in.File)
	d, err := checksum.File(in.File)
	if err != nil {
		return nil, err
	}
	v := &Verdict{File: in.File, Size: d.Size, SHA256: d.SHA256, SHA512: d.SHA512}

	sig := in.Signature
	if sig == "" {
		sig = in.File + assetname.SignatureExt
	}
	ver, err := verifySig(in.Keyring, in.File, sig)
	if err != nil {
		return nil, err
	}
	v.Signer, v.SignerID = ver.Fingerprint, ver.UserID

	var claims []claim
	if in.Manifest != "" {
		claims, err = claimsFrom(in.Keyring, in.Manifest, name, true)
		if err != nil {
			return nil, err
		}
		if len(claims) == 0 {
			return nil, failf("%s does not list %s", filepath.Base(in.Manifest), name)
		}
	} else if claims, err = discover(in.Keyring, in.File); err != nil {
		return nil, err
	}
	if len(claims) == 0 && !selfSigned(name) {
		return nil, failf("no digests for %s beside it (SHA256SUMS, SHA512SUMS, a release manifest, %s.sha256): pass --manifest", name, name)
	}
	for _, c := range claims {
		if c.size >= 0 && c.size != d.Size {
			return nil, failf("%s is %d bytes, %s says %d", name, d.Size, c.source, c.size)
		}
		if c.sha256 != "" {
			if c.sha256 != d.SHA256 {
				return nil, failf("%s: sha256 %s does not match %s (%s)", name, d.SHA256, c.source, c.sha256)
			}
			v.Checked = append(v.Checked, "sha256 = "+c.source)
		}
		if c.sha512 != "" {
			if c.sha512 != d.SHA512 {
				return nil, failf("%s: sha512 does not match %s", name, c.source)
			}
			v.Checked = append(v.Checked, "sha512 = "+c.source)
		}
	}
	v.Checked = unique(v.Checked)
	if len(v.Checked) == 0 {
		v.Checked = []string{"no digest list (the file is itself one)"}
	}
	return v, nil
}

// selfSigned: manifests and checksum lists are vouched for by their
// signature alone.
func selfSigned(name string) bool {
	_, isManifest := assetname.ParseReleaseManifest(name)
	return isManifest || assetname.IsChecksumList(name)
}

func verifySig(kr *pgpsign.Keyring, file, sig string) (pgpsign.Verified, error) {
	if _, err := os.Stat(sig); errors.Is(err, os.ErrNotExist) {
		return pgpsign.Verified{}, failf("%s has no signature (%s not found; pass --signature)", filepath.Base(file), filepath.Base(sig))
	}
	ver, err := kr.VerifyFile(file, sig)
	if err != nil {
		return pgpsign.Verified{}, failf("%v", err) // names both files
	}
	return ver, nil
}

// discover collects the claims of the lists beside file that name it.
func discover(kr *pgpsign.Keyring, file string) ([]claim, error) {
	dir, name := filepath.Dir(file), filepath.Base(file)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var lists []string
	for _, e := range ents {
		n := e.Name()
		if n == name {
			continue
		}
		if _, ok := assetname.ParseReleaseManifest(n); ok || n == "SHA256SUMS" || n == "SHA512SUMS" {
			lists = append(lists, filepath.Join(dir, n))
		}
	}
	sort.Strings(lists)
	var out []claim
	for _, l := range lists {
		cs, err := claimsFrom(kr, l, name, false)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	for _, a := range []checksum.Algorithm{checksum.SHA256, checksum.SHA512} {
		side := file + a.Ext()
		b, err := os.ReadFile(side)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		lines, err := checksum.Parse(bytes.NewReader(b), a)
		if err != nil {
			return nil, failf("%s: %v", filepath.Base(side), err)
		}
		for _, l := range lines {
			if filepath.Base(l.Name) == name {
				c := claim{source: filepath.Base(side) + " (unsigned sidecar)", size: -1}
				if a == checksum.SHA256 {
					c.sha256 = l.Digest
				} else {
					c.sha512 = l.Digest
				}
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// claimsFrom reads a release manifest or a checksum list, after checking
// its signature: an unsigned list proves nothing.
func claimsFrom(kr *pgpsign.Keyring, list, name string, explicit bool) ([]claim, error) {
	b, err := os.ReadFile(list)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(list)
	var out []claim
	if json.Valid(b) {
		m, err := relmanifest.Parse(b)
		if err != nil {
			return nil, failf("%s: %v", base, err)
		}
		src := base + " (signed)"
		for _, vn := range m.Names() {
			if vr := m.Variants[vn]; vr.Filename == name {
				out = append(out, claim{source: src, size: vr.Size, sha256: vr.SHA256, sha512: vr.SHA512})
			}
		}
		if f, ok := m.File(name); ok {
			out = append(out, claim{source: src, size: f.SizeBytes, sha256: f.ChecksumSHA256, sha512: f.ChecksumSHA512})
		}
	} else {
		a := checksum.SHA256
		if strings.Contains(strings.ToUpper(base), "SHA512") {
			a = checksum.SHA512
		}
		lines, err := checksum.Parse(bytes.NewReader(b), a)
		if err != nil {
			return nil, failf("%s: %v", base, err)
		}
		for _, l := range lines {
			if l.Name == name || filepath.Base(l.Name) == name {
				c := claim{source: base + " (signed)", size: -1}
				if a == checksum.SHA256 {
					c.sha256 = l.Digest
				} else {
					c.sha512 = l.Digest
				}
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 && !explicit {
		return nil, nil // a list beside the file that does not name it
	}
	if _, err := verifySig(kr, list, list+assetname.SignatureExt); err != nil {
		return nil, err
	}
	return out, nil
}

// unique drops repeated entries (a manifest lists an archive both as a
// variant and as an artifact), keeping the first.
func unique(list []string) []string {
	seen := map[string]bool{}
	out := list[:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
