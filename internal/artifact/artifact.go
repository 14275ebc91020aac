// Package artifact is the typed list of the files a release run produces,
// after GoReleaser's ctx.Artifacts: producers (the variant archive, the
// Sonic ISO, the SBOM, the Homebrew formula, and whatever later helpers
// add: container image statements, delta indexes, the toolkit's own
// binaries) Add what they wrote with a Type; the release tail
// (internal/release) then selects by type and by role to checksum, sign,
// describe in the release manifest and upload, so that adding an artifact
// is one producer and nothing else.
package artifact

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"

	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/relmanifest"
)

// Role says what the release tail does with an artifact of a type. The
// zero value, Payload, is what a producer registers: a file users download.
type Role int

// The roles. Only Payload is for producers; the others are the tail's own
// outputs, derived from the payloads.
const (
	// Payload: checksummed (.sha256/.sha512 sidecars and the SUMS
	// lists), signed, listed in the release manifest, uploaded, and
	// verified again by the release job.
	Payload Role = iota
	// Fragment: a manifest fragment holding one job's variants: signed,
	// in the job's SUMS lists (without sidecars), uploaded for the
	// release job to merge.
	Fragment
	// Sidecar: a per-file .sha256/.sha512; uploaded only.
	Sidecar
	// Sums: SHA256SUMS or SHA512SUMS; signed, uploaded by the release
	// job only (one build job's lists are partial).
	Sums
	// Signature: a detached .asc; uploaded.
	Signature
	// Manifest: the merged release manifest; signed, uploaded by the
	// release job.
	Manifest
)

// Type is the kind of an artifact. Types are values, not a closed list:
// a producer declares its own (Type{Name: "delta-index"}) and the tail
// treats it by its Role, with nothing else to change.
type Type struct {
	// Name is the type's name in logs and summaries ("archive", "sbom").
	Name string
	// Role is what the tail does with it; zero is Payload.
	Role Role
	// ContentType is the upload's media type; "" means by the file name's
	// extension.
	ContentType string
	// Unlisted payloads are left out of the release manifest's artifact
	// list (still checksummed, signed, uploaded and verified by their
	// sidecar): files whose bytes depend on where the build ran, such as
	// the Homebrew formula, which points at the local archive in a local
	// build, so that the manifest stays reproducible.
	Unlisted bool
}

func (t Type) String() string { return t.Name }

// The types of this repository's producers and of the tail. Other helpers
// add theirs beside their producer.
var (
	Archive  = Type{Name: "archive", ContentType: "application/gzip"} // a tar.gz variant
	ISO      = Type{Name: "iso", ContentType: "application/x-iso9660-image"}
	SBOM     = Type{Name: "sbom", ContentType: "application/json"}
	Formula  = Type{Name: "formula", ContentType: "text/x-ruby", Unlisted: true}
	Frag     = Type{Name: "manifest", Role: Fragment, ContentType: "application/json"}
	Checksum = Type{Name: "checksum", Role: Sidecar, ContentType: "text/plain"}
	SumsList = Type{Name: "checksums", Role: Sums, ContentType: "text/plain"}
	Sig      = Type{Name: "signature", Role: Signature, ContentType: "application/pgp-signature"}
	Release  = Type{Name: "manifest", Role: Manifest, ContentType: "application/json"}
)

// Artifact is one file of the release.
type Artifact struct {
	Type Type
	// Name is the release asset name (the file's base name).
	Name string
	Path string
	Size int64
	// SHA256 and SHA512 are lower-case hex, taken when the file was
	// written: the tail never reads a payload again to hash it.
	SHA256, SHA512 string
	// Variant is the variant the file belongs to ("core-slim"); "" for a
	// release-wide file.
	Variant string
	// Entry, on the file that is a variant (the archive, the ISO), holds
	// the variant's own manifest fields (platforms, requirements, boot
	// flags, the SBOM's format and file name); the tail fills in the
	// file's name, size, digests, URL and signature.
	Entry *relmanifest.Variant
	// Signature is the .asc's path once the tail has signed the file.
	Signature string
}

// Digest returns the hex digest of algo.
func (a *Artifact) Digest(algo checksum.Algorithm) string {
	if algo == checksum.SHA512 {
		return a.SHA512
	}
	return a.SHA256
}

// FromFile describes an existing file as an artifact of type t, hashing it.
func FromFile(t Type, path string) (Artifact, error) {
	d, err := checksum.File(path)
	if err != nil {
		return Artifact{}, err
	}
	return Artifact{Type: t, Path: path, Name: filepath.Base(path), Size: d.Size, SHA256: d.SHA256, SHA512: d.SHA512}, nil
}

// WriteFile writes data to path atomically and describes it as type t.
func WriteFile(t Type, path string, data []byte) (Artifact, error) {
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return Artifact{}, fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return FromFile(t, path)
}

// Write writes path atomically through write, hashing the bytes as they
// pass, and describes the result as type t.
func Write(t Type, path string, write func(w io.Writer) error) (Artifact, error) {
	h := checksum.NewHasher()
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return write(io.MultiWriter(w, h))
	}); err != nil {
		return Artifact{}, fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	d := h.Digests()
	return Artifact{Type: t, Path: path, Name: filepath.Base(path), Size: d.Size, SHA256: d.SHA256, SHA512: d.SHA512}, nil
}

// List is the artifacts of one run, in the order they were added. It is
// safe for concurrent producers.
type List struct {
	mu    sync.Mutex
	items []*Artifact
}

// Add registers a and returns the registered copy, which later steps may
// update (its Signature, its Entry). A second artifact of the same name
// replaces the first (a file rewritten by a re-run of a step).
func (l *List) Add(a Artifact) *Artifact {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := &a
	for i, x := range l.items {
		if x.Name == a.Name {
			l.items[i] = p
			return p
		}
	}
	l.items = append(l.items, p)
	return p
}

// Filter selects artifacts.
type Filter func(*Artifact) bool

// ByType selects the artifacts of any of the types.
func ByType(types ...Type) Filter {
	return func(a *Artifact) bool {
		for _, t := range types {
			if a.Type == t {
				return true
			}
		}
		return false
	}
}

// ByRole selects the artifacts whose type has any of the roles.
func ByRole(roles ...Role) Filter {
	return func(a *Artifact) bool {
		for _, r := range roles {
			if a.Type.Role == r {
				return true
			}
		}
		return false
	}
}

// ByVariant selects the artifacts of a variant.
func ByVariant(name string) Filter { return func(a *Artifact) bool { return a.Variant == name } }

// Not inverts a filter.
func Not(f Filter) Filter { return func(a *Artifact) bool { return !f(a) } }

// Filter returns the artifacts every filter selects, in the order added.
func (l *List) Filter(filters ...Filter) []*Artifact {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*Artifact
next:
	for _, a := range l.items {
		for _, f := range filters {
			if !f(a) {
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}

// All returns every artifact, in the order added.
func (l *List) All() []*Artifact { return l.Filter() }

// Get returns the artifact named name, or nil.
func (l *List) Get(name string) *Artifact {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.items {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Names returns the names of the artifacts, sorted.
func Names(arts []*Artifact) []string {
	out := make([]string, len(arts))
	for i, a := range arts {
		out[i] = a.Name
	}
	sort.Strings(out)
	return out
}
