// Command sonic-iso is the program behind the sonic-iso action: it maps the
// action's inputs onto internal/sonic/build (initramfs, ISO, checksums,
// signature, release manifest, upload) and writes the outputs and the step
// summary. Nothing else lives here.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/sonic/build"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stdout, "::error title=sonic-iso::%s\n", escape(err.Error()))
		os.Exit(1)
	}
}

// escape keeps a message on one workflow-command line.
func escape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	gha := githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(stdout))
	in := func(name string) string { return gha.GetInput(name) }

	key := getenv("INPUT_SIGNING-KEY")
	passphrase := getenv("INPUT_SIGNING-PASSPHRASE")
	token := in("token")
	// Mask secrets before anything could print them.
	for _, line := range strings.Split(key, "\n") {
		if l := strings.TrimSpace(line); len(l) > 8 && !strings.HasPrefix(l, "-----") {
			gha.AddMask(l)
		}
	}
	if passphrase != "" {
		gha.AddMask(passphrase)
	}
	if token != "" {
		gha.AddMask(token)
	}

	ws := getenv("GITHUB_WORKSPACE")
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) || ws == "" {
			return p
		}
		return filepath.Join(ws, p)
	}
	version := strings.TrimPrefix(in("version"), "v")
	if ref := getenv("GITHUB_REF"); version == "" && strings.HasPrefix(ref, "refs/tags/") {
		version = strings.TrimPrefix(strings.TrimPrefix(ref, "refs/tags/"), "v")
	}
	if version == "" {
		return fmt.Errorf("no version: set the version input or run on a tag push")
	}
	when, err := sourceDate(in("source-date-epoch"), getenv("SOURCE_DATE_EPOCH"), ws)
	if err != nil {
		return err
	}
	out := in("output")
	if out == "" {
		out = "dist"
	}
	busybox := in("busybox")
	if busybox == "" {
		busybox = "/bin/busybox"
	}
	opts := build.Options{
		Version: version, Kernel: abs(in("kernel")), Modules: abs(in("modules")),
		Rootfs: abs(in("rootfs")), Core: abs(in("core")), Busybox: abs(busybox),
		Runtime: getenv("UDOS_SONIC_RUNTIME"), Cmdline: in("cmdline"),
		OutputDir: abs(out), Manifest: abs(in("manifest")), Time: when,
		Log: stdout, TempDir: getenv("RUNNER_TEMP"),
	}
	for _, b := range strings.Split(in("binaries"), "\n") {
		if b = strings.TrimSpace(b); b != "" {
			opts.Bins = append(opts.Bins, abs(b))
		}
	}
	if opts.Runtime == "" {
		return fmt.Errorf("UDOS_SONIC_RUNTIME is not set: the action's build step provides the static sonic-runtime")
	}
	if key != "" {
		s, err := pgpsign.LoadSigner([]byte(key), []byte(passphrase))
		if err != nil {
			return fmt.Errorf("loading the signing key: %w", err)
		}
		opts.Signer = s
	}
	if opts.Tools, err = iso.FindTools(exec.LookPath); err != nil {
		return err
	}
	if in("upload") == "true" {
		owner, repo, ok := strings.Cut(in("repository"), "/")
		if !ok || owner == "" || repo == "" {
			return fmt.Errorf("upload needs repository as OWNER/NAME, got %q", in("repository"))
		}
		if token == "" {
			return fmt.Errorf("upload needs a token (the action's token input, default github.token)")
		}
		c, err := ghrelease.New(ghrelease.Config{
			APIURL: getenv("GITHUB_API_URL"), Token: token, UserAgent: "udos-dist-sonic-iso",
			Logf: func(f string, a ...any) { gha.Infof(f, a...) },
		})
		if err != nil {
			return err
		}
		opts.Publish = &build.Publish{
			Client: c, Owner: owner, Repo: repo, ServerURL: getenv("GITHUB_SERVER_URL"),
			Tag: "v" + version, Release: in("publish-release") == "true",
		}
		if ref := getenv("GITHUB_REF"); strings.HasPrefix(ref, "refs/tags/") && strings.TrimPrefix(strings.TrimPrefix(ref, "refs/tags/"), "v") == version {
			opts.Publish.Tag = strings.TrimPrefix(ref, "refs/tags/")
		}
	}

	res, runErr := build.Build(ctx, opts)
	if getenv("GITHUB_STEP_SUMMARY") != "" {
		gha.AddStepSummary(summary(res, runErr))
	}
	if runErr != nil {
		return runErr
	}
	outputs := [][2]string{{"iso", res.ISO}, {"sha256", res.SHA256}, {"manifest", res.Manifest}, {"signature", res.Signature}}
	for _, o := range outputs {
		if getenv("GITHUB_OUTPUT") != "" {
			gha.SetOutput(o[0], o[1])
		}
		fmt.Fprintf(stdout, "%s=%s\n", o[0], o[1])
	}
	return nil
}

// sourceDate picks the image time: the input, else SOURCE_DATE_EPOCH, else
// the workspace's last commit.
func sourceDate(input, env, workspace string) (time.Time, error) {
	s := input
	if s == "" {
		s = env
	}
	if s == "" && workspace != "" {
		if b, err := exec.Command("git", "-C", workspace, "log", "-1", "--format=%ct").Output(); err == nil {
			s = strings.TrimSpace(string(b))
		}
	}
	if s == "" {
		return time.Time{}, fmt.Errorf("no build time: set source-date-epoch or SOURCE_DATE_EPOCH (seconds since 1970)")
	}
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil || secs < 315532800 {
		return time.Time{}, fmt.Errorf("source date epoch %q is not a number of seconds after 1980", s)
	}
	return time.Unix(secs, 0).UTC(), nil
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
