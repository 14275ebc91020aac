// Package build turns the Sonic inputs (kernel, modules, base root file
// system, uDOS core tarball, busybox, the sonic-runtime binary) into the
// sonic-iso variant's producer output, udos-sonic-v<version>.iso; the
// release tail every job shares (internal/release) then signs it, writes
// its sidecars and its entry of the release manifest, and uploads it. It
// runs as small named steps (internal/pipe) so a failure says where it
// happened.
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

	"github.com/fredbook/udos-dist/internal/artifact"
	"github.com/fredbook/udos-dist/internal/assetname"
	"github.com/fredbook/udos-dist/internal/checksum"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/pipe"
	"github.com/fredbook/udos-dist/internal/release"
	"github.com/fredbook/udos-dist/internal/relmanifest"
	"github.com/fredbook/udos-dist/internal/sonic/delta"
	"github.com/fredbook/udos-dist/internal/sonic/initramfs"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
)

// VariantName is the release manifest's name for the (amd64) ISO.
const VariantName = "sonic-iso"

// Variant is the release manifest's name for the ISO of an architecture:
// VariantName for amd64 (and ""), "sonic-iso-arm64" for arm64. Each
// architecture is a variant of its own, with its own file, platforms and
// manifest fragment (udos-sonic-iso-arm64-v1.4.6.manifest.json), so the
// amd64 entry and names stay what clients before arm64 read.
func Variant(arch string) string {
	if arch == "" || arch == iso.AMD64 {
		return VariantName
	}
	return VariantName + "-" + arch
}

// Options are the inputs of one build.
type Options struct {
	Version string // "1.4.6" (a leading "v" is dropped)
	// Arch is the image's architecture: amd64 (default; BIOS and UEFI) or
	// arm64 (UEFI only). It names the image (FileNameArch) and its
	// variant (Variant); Kernel, Busybox and Runtime must be of it, and
	// Tools found for it (iso.FindToolsFor).
	Arch   string
	Kernel string // bzImage (amd64) or uncompressed Image (arm64), e.g. from Debian's linux-image package
	// Modules is the kernel's lib/modules/<release> directory; empty means
	// a kernel with every needed driver built in.
	Modules     string
	ModuleNames []string // default initramfs.DefaultModulesFor(Arch)
	Rootfs      string   // optional base root file system tarball (Alpine minirootfs)
	Core        string   // optional uDOS core-slim tarball, unpacked at /opt/udos
	Busybox     string   // static busybox (Debian busybox-static: /bin/busybox)
	Runtime     string   // static sonic-runtime binary (CGO_ENABLED=0)
	Bins        []string // extra static binaries for /usr/local/bin (udos-lib)
	Cmdline     string   // extra kernel command line
	// SingleStream compresses the initramfs as one gzip stream, the
	// layout before delta updates (for the size comparison in
	// BENCHMARKS.md); off, it is in independent members.
	SingleStream bool
	OutputDir    string
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
	Netboot   string   // the network boot bundle (.tar.gz)
	Manifest  string   // the merged release manifest
	Fragment  string   // the manifest fragment holding only sonic-iso
	Index     string   // the ISO's block index (.bix)
	Initramfs int64    // compressed initramfs size
	Published *ghrelease.PublishResult
	Steps     []pipe.Result
}

// DeltaIndex is the type of the ISO's block index (internal/sonic/delta):
// a payload like the ISO, so the tail signs, checksums, lists (next to the
// ISO, under its variant) and uploads it.
var DeltaIndex = artifact.Type{Name: "delta-index", ContentType: "application/octet-stream"}

// Netboot is the type of the network boot bundle: kernel, initramfs, iPXE
// scripts and a GRUB EFI netboot binary, to unpack into a TFTP root.
var Netboot = artifact.Type{Name: "netboot", ContentType: "application/gzip"}

// FileName is the (amd64) ISO's name for a version.
func FileName(version string) string { return assetname.SonicISO(version) }

// FileNameArch is the ISO's name for a version and architecture.
func FileNameArch(version, arch string) string { return assetname.SonicISOArch(version, arch) }

type state struct {
	opts   Options
	work   string
	initrd string
	res    Result
	arts   artifact.List
}

// Build runs every step.
func Build(ctx context.Context, opts Options) (Result, error) {
	opts.Version = strings.TrimPrefix(opts.Version, "v")
	if opts.Arch == "" {
		opts.Arch = iso.AMD64
	}
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
	tail := release.New(release.Config{
		Version: opts.Version, Job: Variant(opts.Arch), Output: opts.OutputDir, Manifest: opts.Manifest,
		Time: opts.Time, Signer: opts.Signer, Log: opts.Log,
	}, &st.arts)
	if p := opts.Publish; p != nil {
		tail.Upload, tail.GitHub, tail.Owner, tail.Repo, tail.Tag = true, p.Client, p.Owner, p.Repo, p.Tag
		tail.ServerURL, tail.Publish = p.ServerURL, p.Release
	}
	pc := &pipe.Context{Log: opts.Log, Values: st}
	steps := append([]pipe.Step{pipe.Func("initramfs", st.initramfs), pipe.Func("iso", st.iso), pipe.Func("delta-index", st.index), pipe.Func("netboot", st.netboot)}, tail.Steps("publish")...)
	err = pipe.Run(ctx, pc, steps...)
	st.res.Steps = pc.Results()
	for _, a := range st.arts.Filter(artifact.ByType(artifact.Checksum)) {
		st.res.Sidecars = append(st.res.Sidecars, a.Path)
	}
	if iso := st.arts.Get(filepath.Base(st.res.ISO)); iso != nil {
		st.res.Signature = iso.Signature
	}
	if tail.Fragment != nil {
		st.res.Fragment = tail.Fragment.Path
	}
	st.res.Manifest, st.res.Published = tail.ManifestPath, tail.Uploaded
	return st.res, err
}

func validate(o Options) error {
	var problems []string
	var kernelErr error
	if o.Version == "" || strings.ContainsAny(o.Version, "/ \\\t\n") {
		problems = append(problems, fmt.Sprintf("version %q is empty or not a plain version", o.Version))
	}
	if err := iso.CheckArch(o.Arch); err != nil {
		return fmt.Errorf("sonic build: %w", err)
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
			continue
		}
		if f.name == "kernel" {
			if err := checkKernel(f.path, o.Arch); err != nil {
				problems = append(problems, err.Error())
				kernelErr = err
			}
		} else if err := checkBinaryArch(f.name, f.path, o.Arch); err != nil {
			problems = append(problems, err.Error())
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
	for _, b := range o.Bins {
		if err := checkBinaryArch("binary", b, o.Arch); err != nil {
			problems = append(problems, err.Error())
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
		err := errors.New("sonic build: " + strings.Join(problems, "; "))
		if kernelErr != nil {
			return &inputError{err, kernelErr}
		}
		return err
	}
	return nil
}

// inputError is the list of input problems, which errors.Is sees through
// to the kernel's (ErrNotKernel).
type inputError struct{ list, kernel error }

func (e *inputError) Error() string { return e.list.Error() }
func (e *inputError) Unwrap() error { return e.kernel }

func (s *state) initramfs(ctx context.Context, _ *pipe.Context) error {
	o := s.opts
	in := initramfs.Options{
		Version: o.Version, Runtime: o.Runtime, Busybox: o.Busybox,
		Rootfs: o.Rootfs, Core: o.Core, Bins: o.Bins, Time: o.Time, SingleStream: o.SingleStream,
	}
	if o.Modules != "" {
		names := o.ModuleNames
		if len(names) == 0 {
			names = initramfs.DefaultModulesFor(o.Arch)
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
	out := filepath.Join(o.OutputDir, FileNameArch(o.Version, o.Arch))
	// Build next to the output and rename, so a failed build never leaves
	// a half-written ISO under the final name.
	tmp := out + ".partial"
	info, err := iso.Build(ctx, iso.Options{
		Version: o.Version, Arch: o.Arch, Kernel: o.Kernel, Initramfs: s.initrd, Cmdline: o.Cmdline,
		Output: tmp, Time: o.Time, Tools: o.Tools, TempDir: s.work,
	})
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("moving the ISO into place: %w", err)
	}
	d, err := checksum.File(out)
	if err != nil {
		return err
	}
	s.res.ISO, s.res.Size, s.res.SHA256, s.res.SHA512 = out, info.Size, d.SHA256, d.SHA512
	s.arts.Add(artifact.Artifact{
		Type: artifact.ISO, Name: filepath.Base(out), Path: out, Size: d.Size, SHA256: d.SHA256, SHA512: d.SHA512,
		Variant: Variant(o.Arch),
		Entry: &relmanifest.Variant{
			// An amd64 PC image boots from BIOS and UEFI, an arm64 one
			// from UEFI only: the boot flags say which.
			Platforms:     []string{"linux-" + o.Arch},
			Bootable:      relmanifest.Bool(true),
			UEFISupported: relmanifest.Bool(true),
			BIOSFallback:  relmanifest.Bool(o.Arch == iso.AMD64),
		},
	})
	return nil
}

// index writes the ISO's block index beside it.
func (s *state) index(ctx context.Context, _ *pipe.Context) error {
	f, err := os.Open(s.res.ISO)
	if err != nil {
		return err
	}
	defer f.Close()
	ix, err := delta.MakeIndex(f, 0)
	if err != nil {
		return fmt.Errorf("indexing %s: %w", filepath.Base(s.res.ISO), err)
	}
	raw, err := ix.MarshalBinary()
	if err != nil {
		return err
	}
	out := filepath.Join(s.opts.OutputDir, assetname.SonicIndexArch(s.opts.Version, s.opts.Arch))
	a, err := artifact.WriteFile(DeltaIndex, out, raw)
	if err != nil {
		return err
	}
	a.Variant = Variant(s.opts.Arch)
	s.arts.Add(a)
	s.res.Index = out
	return nil
}

// netboot writes the network boot bundle beside the ISO, from the same
// kernel and initramfs, with an install script that fetches this ISO
// (by the digest just computed) and installs it.
func (s *state) netboot(ctx context.Context, _ *pipe.Context) error {
	o := s.opts
	out := filepath.Join(o.OutputDir, assetname.SonicNetbootArch(o.Version, o.Arch))
	err := iso.BuildNetboot(ctx, iso.NetbootOptions{
		Version: o.Version, Arch: o.Arch, Kernel: o.Kernel, Initramfs: s.initrd, Cmdline: o.Cmdline,
		ISOName: filepath.Base(s.res.ISO), ISOSHA256: s.res.SHA256,
		Output: out, Time: o.Time, Tools: o.Tools, TempDir: s.work,
	})
	if err != nil {
		return err
	}
	a, err := artifact.FromFile(Netboot, out)
	if err != nil {
		return err
	}
	a.Variant = Variant(o.Arch)
	s.arts.Add(a)
	s.res.Netboot = out
	return nil
}
