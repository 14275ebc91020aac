// Command sonic-iso is the program behind the sonic-iso action: it maps the
// action's inputs onto internal/sonic/build (initramfs, ISO, checksums,
// signature, release manifest, upload) and writes the outputs and the step
// summary. Nothing else lives here.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fredbook/udos-dist/actions/internal/actionkit"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/sonic/build"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
)

func main() { os.Exit(actionkit.Main("sonic-iso", os.Getenv, os.Stdout, run)) }

// run maps the inputs onto build.Options, and the result of build.Build
// onto the outputs and the summary.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	kit := actionkit.New(getenv, stdout)
	in := kit.Input
	sec := kit.Secrets() // masked before anything can print them

	abs := kit.Path
	version := kit.Version(in("version"))
	if version == "" {
		return fmt.Errorf("no version: set the version input or run on a tag push")
	}
	// The image time: the input, else SOURCE_DATE_EPOCH, else the
	// workspace's last commit. The EFI partition is FAT: nothing before 1980.
	when, err := kit.SourceDateEpoch(ctx, in("source-date-epoch"), getenv("GITHUB_WORKSPACE"), actionkit.Year1980)
	if err != nil {
		return err
	}
	if when.IsZero() {
		return errors.New("no build time: set source-date-epoch or SOURCE_DATE_EPOCH (seconds since 1970)")
	}
	arch := kit.InputOr("arch", iso.AMD64)
	if err := iso.CheckArch(arch); err != nil {
		return fmt.Errorf("the arch input: %w", err)
	}
	opts := build.Options{
		Version: version, Arch: arch, Kernel: abs(in("kernel")), Modules: abs(in("modules")),
		Rootfs: abs(in("rootfs")), Core: abs(in("core")), Busybox: abs(kit.InputOr("busybox", "/bin/busybox")),
		Runtime: getenv("UDOS_SONIC_RUNTIME"), Cmdline: in("cmdline"),
		OutputDir: abs(kit.InputOr("output", "dist")), Manifest: abs(in("manifest")), Time: when,
		Log: stdout, TempDir: getenv("RUNNER_TEMP"),
	}
	if opts.Bins, err = binaries(in("binaries"), abs, getenv("UDOS_SONIC_UDOS_LIB")); err != nil {
		return err
	}
	if opts.Runtime == "" {
		return fmt.Errorf("UDOS_SONIC_RUNTIME is not set: the action's build step provides the static sonic-runtime")
	}
	if sec.Key != "" {
		s, err := pgpsign.LoadSigner([]byte(sec.Key), []byte(sec.Passphrase))
		if err != nil {
			return fmt.Errorf("loading the signing key: %w", err)
		}
		opts.Signer = s
	}
	if opts.Tools, err = iso.FindToolsFor(arch, exec.LookPath); err != nil {
		return err
	}
	upload, err := kit.Bool("upload", false)
	if err != nil {
		return err
	}
	publishRelease, err := kit.Bool("publish-release", false)
	if err != nil {
		return err
	}
	if upload {
		owner, repo, err := actionkit.SplitRepository(in("repository"))
		if err != nil {
			return fmt.Errorf("upload needs repository as OWNER/NAME: %w", err)
		}
		if sec.Token == "" {
			return fmt.Errorf("upload needs a token (the action's token input, default github.token)")
		}
		c, err := kit.GitHub(sec.Token, "udos-dist-sonic-iso")
		if err != nil {
			return err
		}
		opts.Publish = &build.Publish{
			Client: c, Owner: owner, Repo: repo, ServerURL: getenv("GITHUB_SERVER_URL"),
			Tag: "v" + version, Release: publishRelease,
		}
		// Upload to the pushed tag's release when it names this version,
		// whether it is spelt v1.4.6 or 1.4.6.
		if tag := kit.TagOf(version); tag != "" {
			opts.Publish.Tag = tag
		}
	}

	res, runErr := build.Build(ctx, opts)
	kit.Summary(summary(res, runErr))
	if runErr != nil {
		return runErr
	}
	kit.SetOutput("iso", res.ISO)
	kit.SetOutput("sha256", res.SHA256)
	kit.SetOutput("manifest", res.Manifest)
	kit.SetOutput("signature", res.Signature)
	kit.SetOutput("netboot", res.Netboot)
	return nil
}

// binaries is the binaries input (one path a line) plus udos-lib, the Sonic
// end of the bridge, which every image carries unless the input names a
// udos-lib of its own (a build from another commit, say).
func binaries(input string, abs func(string) string, udosLib string) ([]string, error) {
	var bins []string
	named := false
	for _, b := range strings.Split(input, "\n") {
		if b = strings.TrimSpace(b); b != "" {
			bins = append(bins, abs(b))
			named = named || filepath.Base(b) == "udos-lib"
		}
	}
	if named {
		return bins, nil
	}
	if udosLib == "" {
		return nil, fmt.Errorf("UDOS_SONIC_UDOS_LIB is not set: the action's build step provides the static udos-lib (or name one in the binaries input)")
	}
	return append(bins, udosLib), nil
}

func summary(res build.Result, err error) string {
	var b strings.Builder
	b.WriteString("### Sonic ISO\n\n| step | status | time |\n| --- | --- | --- |\n")
	for _, s := range res.Steps {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", s.Step, s.Status, s.Duration)
	}
	if res.ISO != "" {
		fmt.Fprintf(&b, "\n`%s`: %d bytes, sha256 `%s`\n", filepath.Base(res.ISO), res.Size, res.SHA256)
	}
	if err != nil {
		fmt.Fprintf(&b, "\n**Failed:** %s\n", err)
	}
	return b.String()
}
