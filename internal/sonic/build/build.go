// Package build turns the Sonic inputs (kernel, modules, base root file
// system, uDOS core tarball, busybox, the sonic-runtime binary) into the
// release artifacts of the sonic-iso variant: udos-sonic-v<version>.iso,
// its .sha256/.sha512 sidecars, an optional detached .asc signature and the
// sonic-iso entry of the release manifest, optionally published to a GitHub
// Release. It runs as small named steps (internal/pipe) so a failure says
// where it happened.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/pipe"
	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/sonic/initramfs"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
)

// VariantName is the release manifest's name for the ISO.
const VariantName = "sonic-iso"

// Options are the inputs of one build.
type Options struct {
	Version string // "1.4.6" (a leading "v" is dropped)
	Kernel  string // bzImage, e.g. from Debian's linux-image package
	// Modules is the kernel's lib/modules/<release> directory; empty means
	// a kernel with every needed driver built in.
	Modules     string
	ModuleNames []string // default initramfs.DefaultModules
	Rootfs      string   // optional base root file system tarball (Alpine minirootfs)
	Core        string   // optional uDOS core-slim tarball, unpacked at /opt/udos
	Busybox     string   // static busybox (Debian busybox-static: /bin/busybox)
	Runtime     string   // static sonic-runtime binary (CGO_ENABLED=0)
	Bins        []string // extra static binaries for /usr/local/bin (udos-lib)
	Cmdline     string   // extra kernel command line
	OutputDir   string
	// Time stamps every file in the ISO, the initramfs and the ESP image
	// (SOURCE_DATE_EPOCH); the same inputs and Time give the same bytes.
	Time time.Time
	// Signer signs the ISO (.asc); nil skips signing.
	Signer *pgpsign.Signer
	// Manifest is the release manifest to merge the sonic-iso entry into;
	// empty means OutputDir/releases/v<version>-manifest.json. The entry
	// alone is also written as the fragment
	// udos-sonic-iso-v<version>.manifest.json, which the release job of
	// build-variant merges from the draft release.
	Manifest string
	// Publish uploads the artifacts; nil skips the upload.
	Publish *Publish
	Tools   iso.Tools
	Log     io.Writer
	TempDir string
}

// Publish says where the artifacts go.
type Publish struct {
	Client      *ghrelease.Client
	Owner, Repo string
	Tag         string // default v<version>
	// ServerURL is GitHub's web address (GITHUB_SERVER_URL); empty means
	// https://github.com. Download URLs in the manifest start with it.
	ServerURL string
	// Release publishes the release (draft=false) after the upload. Off,
	// the assets wait on the draft for the release job, which publishes
	// every variant at once.
	Release bool
}

// Result lists what was produced.
type Result struct {
	ISO       string
	Size      int64
	SHA256    string // hex digest
	SHA512    string
	Sidecars  []string // .sha256, .sha512
	Signature string   // .asc path, "" when unsigned
	Manifest  string   // the merged release manifest
	Fragment  string   // the manifest fragment holding only sonic-iso
	Initramfs int64    // compressed initramfs size
	Published *ghrelease.PublishResult
	Steps     []pipe.Result
}

// FileName is the ISO's name for a version.
func FileName(version string) string { return "udos-sonic-v" + version + ".iso" }

type state struct {
	opts   Options
	work   string
	initrd string
	res    Result
}

// Build runs every step.
func Build(ctx context.Context, opts Options) (Result, error) {
	opts.Version = strings.TrimPrefix(opts.Version, "v")
	if err := validate(opts); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(opts.OutputDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("creating output directory %q: %w", opts.OutputDir, err)
	}
	work, err := os.MkdirTemp(opts.TempDir, "sonic-build-")
	if err != nil {
		return Result{}, fmt.Errorf("creating work directory: %w", err)
	}
	defer os.RemoveAll(work)
	st := &state{opts: opts, work: work}
	pc := &pipe.Context{Log: opts.Log, Values: st}
	err = pipe.Run(ctx, pc,
		pipe.Func("initramfs", st.initramfs),
		pipe.Func("iso", st.iso),
		pipe.Func("checksums", st.checksums),
		pipe.Func("manifest", st.manifest),
		signStep{st},
		publishStep{st},
	)
	st.res.Steps = pc.Results()
	return st.res, err
}

func validate(o Options) error {
	var problems []string
	if o.Version == "" || strings.ContainsAny(o.Version, "/ \\\t\n") {
		problems = append(problems, fmt.Sprintf("version %q is empty or not a plain version", o.Version))
	}
	for _, f := range []struct{ name, path string }{
		{"kernel", o.Kernel}, {"busybox", o.Busybox}, {"runtime", o.Runtime},
	} {
		if f.path == "" {
			problems = append(problems, f.name+" is required")
			continue
		}
		if fi, err := os.Stat(f.path); err != nil || !fi.Mode().IsRegular() {
			problems = append(problems, fmt.Sprintf("%s %q is not a readable file", f.name, f.path))
		}
	}
	for _, f := range []struct{ name, path string }{{"rootfs", o.Rootfs}, {"core", o.Core}} {
		if f.path == "" {
			continue
		}
		if fi, err := os.Stat(f.path); err != nil || !fi.Mode().IsRegular() {
			problems = append(problems, fmt.Sprintf("%s %q is not a readable file", f.name, f.path))
		}
	}
	if o.Modules != "" {
		if fi, err := os.Stat(o.Modules); err != nil || !fi.IsDir() {
			problems = append(problems, fmt.Sprintf("modules %q is not a directory", o.Modules))
		}
	}
	if o.OutputDir == "" {
		problems = append(problems, "output directory is required")
	}
	if o.Time.IsZero() {
		problems = append(problems, "a build time (SOURCE_DATE_EPOCH) is required for a reproducible image")
	}
	if len(problems) > 0 {
		return errors.New("sonic build: " + strings.Join(problems, "; "))
	}
	return nil
}

func (s *state) initramfs(ctx context.Context, _ *pipe.Context) error {
	o := s.opts
	in := initramfs.Options{
		Version: o.Version, Runtime: o.Runtime, Busybox: o.Busybox,
		Rootfs: o.Rootfs, Core: o.Core, Bins: o.Bins, Time: o.Time,
	}
	if o.Modules != "" {
		names := o.ModuleNames
		if len(names) == 0 {
			names = initramfs.DefaultModules
		}
		in.Modules = &initramfs.Modules{Dir: o.Modules, Names: names}
	}
	s.initrd = filepath.Join(s.work, "initrd.gz")
	f, err := os.Create(s.initrd)
	if err != nil {
		return fmt.Errorf("creating the initramfs: %w", err)
	}
	defer f.Close()
	if err := initramfs.Build(f, in); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	s.res.Initramfs = fi.Size()
	return f.Close()
}

func (s *state) iso(ctx context.Context, _ *pipe.Context) error {
	o := s.opts
	out := filepath.Join(o.OutputDir, FileName(o.Version))
	// Build next to the output and rename, so a failed build never leaves
	// a half-written ISO under the final name.
	tmp := out + ".partial"
	info, err := iso.Build(ctx, iso.Options{
		Version: o.Version, Kernel: o.Kernel, Initramfs: s.initrd, Cmdline: o.Cmdline,
		Output: tmp, Time: o.Time, Tools: o.Tools, TempDir: s.work,
	})
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("moving the ISO into place: %w", err)
	}
	s.res.ISO, s.res.Size = out, info.Size
	return nil
}

func (s *state) checksums(context.Context, *pipe.Context) error {
	d, side, err := checksum.Sidecars(s.res.ISO)
	if err != nil {
		return err
	}
	s.res.SHA256, s.res.SHA512 = d.SHA256, d.SHA512
	s.res.Sidecars = side
	return nil
}

type signStep struct{ s *state }

func (signStep) String() string { return "sign" }
func (st signStep) Skip(*pipe.Context) (bool, string) {
	return st.s.opts.Signer == nil, "no signing key"
}
func (st signStep) Run(context.Context, *pipe.Context) error {
	asc, err := pgpsign.SignFile(st.s.opts.Signer, st.s.res.ISO)
	if err != nil {
		return err
	}
	st.s.res.Signature = asc
	// The release job verifies each fragment's signature before merging.
	if _, err := pgpsign.SignFile(st.s.opts.Signer, st.s.res.Fragment); err != nil {
		return err
	}
	return nil
}

func (s *state) downloadURL(name string) string {
	p := s.opts.Publish
	if p == nil {
		return name
	}
	base := strings.TrimSuffix(p.ServerURL, "/")
	if base == "" {
		base = "https://github.com"
	}
	return fmt.Sprintf("%s/%s/%s/releases/download/%s/%s", base, p.Owner, p.Repo, s.tag(), name)
}

func (s *state) tag() string {
	if s.opts.Publish != nil && s.opts.Publish.Tag != "" {
		return s.opts.Publish.Tag
	}
	return "v" + s.opts.Version
}

func (s *state) manifest(context.Context, *pipe.Context) error {
	name := filepath.Base(s.res.ISO)
	v := relmanifest.Variant{
		Filename: name, Size: s.res.Size, SHA256: s.res.SHA256, SHA512: s.res.SHA512,
		Platforms:     []string{"x86_64-bios", "x86_64-uefi"},
		URL:           s.downloadURL(name),
		Bootable:      relmanifest.Bool(true),
		UEFISupported: relmanifest.Bool(true),
		BIOSFallback:  relmanifest.Bool(true),
	}
	if s.opts.Signer != nil {
		v.Signature = s.downloadURL(name + ".asc")
	}
	frag := relmanifest.New(s.opts.Version)
	frag.ReleaseDate = s.opts.Time.UTC().Format("2006-01-02")
	if err := frag.Set(VariantName, v); err != nil {
		return err
	}
	fragPath := filepath.Join(s.opts.OutputDir, relmanifest.FragmentName(VariantName, s.opts.Version))
	if err := frag.Write(fragPath); err != nil {
		return err
	}
	s.res.Fragment = fragPath
	path := s.opts.Manifest
	if path == "" {
		path = filepath.Join(s.opts.OutputDir, filepath.FromSlash(relmanifest.Path(s.opts.Version)))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", filepath.Dir(path), err)
	}
	m, err := relmanifest.ReadOrNew(path, s.opts.Version)
	if err != nil {
		return err
	}
	if err := m.Merge(frag); err != nil {
		return fmt.Errorf("merging into %q: %w", path, err)
	}
	if err := m.Write(path); err != nil {
		return err
	}
	s.res.Manifest = path
	return nil
}

type publishStep struct{ s *state }

func (publishStep) String() string { return "publish" }
func (st publishStep) Skip(*pipe.Context) (bool, string) {
	return st.s.opts.Publish == nil, "upload not requested"
}
func (st publishStep) Run(ctx context.Context, _ *pipe.Context) error {
	s := st.s
	p := s.opts.Publish
	assets := []ghrelease.AssetFile{{Path: s.res.ISO, ContentType: "application/x-iso9660-image"}}
	for _, f := range s.res.Sidecars {
		assets = append(assets, ghrelease.AssetFile{Path: f, ContentType: "text/plain"})
	}
	if s.res.Signature != "" {
		assets = append(assets, ghrelease.AssetFile{Path: s.res.Signature, ContentType: "application/pgp-signature"})
	}
	assets = append(assets, ghrelease.AssetFile{Path: s.res.Fragment, ContentType: "application/json"})
	if s.res.Signature != "" {
		assets = append(assets, ghrelease.AssetFile{Path: s.res.Fragment + ".asc", ContentType: "application/pgp-signature"})
	}
	if s.res.Signature != "" {
		kept, err := adoptSignatures(ctx, p.Client, p.Owner, p.Repo, s.tag(), s.opts.Signer, []string{s.res.Signature, s.res.Fragment + ".asc"})
		if err != nil {
			return err
		}
		if kept > 0 && s.opts.Log != nil {
			fmt.Fprintf(s.opts.Log, "  kept %d signature(s) already on the release (they verify against these bytes)\n", kept)
		}
	}
	res, err := p.Client.Publish(ctx, ghrelease.PublishRequest{
		Owner: p.Owner, Repo: p.Repo, Tag: s.tag(), Name: "uDOS " + s.tag(), Assets: assets,
		KeepDraft: !p.Release,
	})
	if err != nil {
		return err
	}
	s.res.Published = res
	return nil
}
