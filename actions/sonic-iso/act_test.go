package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
)

// workflow uses the action the way a uDOS release workflow would, by its
// public name, which act maps to this checkout.
const workflow = `name: sonic
on: push
jobs:
  iso:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Build the ISO
        id: sonic
        uses: fredbook/udos-dist/actions/sonic-iso@v1
        with:
          kernel: inputs/vmlinuz
          busybox: inputs/busybox
          core: inputs/core.tar.gz
          output: dist
          source-date-epoch: "1764115200"
          install-tools: "false"
      - name: Check
        shell: bash
        env:
          ISO: ${{ steps.sonic.outputs.iso }}
        run: |
          cd "$(dirname "$ISO")"
          sha256sum -c udos-sonic-v1.4.6.iso.sha256
          echo "checked $(basename "$ISO")"
          # The image carries udos-lib, built by the action. The initramfs
          # is a series of cpio archives (cpio -t stops after the first):
          # look for the entry's newc header, "070701", 104 hex digits, name.
          mkdir -p nb && tar -xzf udos-sonic-v1.4.6-netboot.tar.gz -C nb
          zcat nb/initrd.gz > nb/initrd
          LC_ALL=C grep -a -q -E '070701[0-9A-Fa-f]{104}usr/local/bin/udos-lib' nb/initrd
          echo "the image has usr/local/bin/udos-lib"
`

// TestActionWithAct runs action.yml for real (composite steps, go build of
// the action and of sonic-runtime, inputs and outputs wired by act).
func TestActionWithAct(t *testing.T) {
	act, err := exec.LookPath("act")
	if err != nil {
		if _, serr := os.Stat("/root/go/bin/act"); serr == nil {
			act = "/root/go/bin/act"
		} else if os.Getenv("CI") == "true" {
			t.Fatal("act not found (go install github.com/nektos/act@v0.2.89)")
		} else {
			t.Skip("act not found")
		}
	}
	isotest.Tools(t, iso.AMD64)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "uDOS")
	for _, d := range []string{".github/workflows", "inputs"} {
		if err := os.MkdirAll(filepath.Join(repo, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(repo, ".github/workflows/sonic.yml"), []byte(workflow), 0o644)
	// Stand-ins: the action does not run the kernel or busybox.
	os.WriteFile(filepath.Join(repo, "inputs/vmlinuz"), isotest.BzImage(), 0o644)
	os.WriteFile(filepath.Join(repo, "inputs/busybox"), []byte("busybox"), 0o755)
	tarCmd := exec.Command("tar", "-czf", filepath.Join(repo, "inputs/core.tar.gz"), "-C", root, "go.mod")
	if out, err := tarCmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "x"}} {
		c := exec.Command("git", args...)
		c.Dir = repo
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	event := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(event, []byte(`{"ref": "refs/tags/v1.4.6"}`), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, act, "push", "-e", event, "-P", "ubuntu-latest=-self-hosted",
		"--local-repository", "fredbook/udos-dist@v1="+root, "-W", ".github/workflows/sonic.yml")
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("act: %v\n%s", err, tailLines(string(out), 40))
	}
	s := string(out)
	iso := regexp.MustCompile(`::set-output:: iso=(\S+udos-sonic-v1\.4\.6\.iso)`).FindStringSubmatch(s)
	if iso == nil || !strings.Contains(s, "checked udos-sonic-v1.4.6.iso") || !strings.Contains(s, "the image has usr/local/bin/udos-lib") {
		t.Fatalf("no iso output or check:\n%s", tailLines(s, 40))
	}
	if !regexp.MustCompile(`::set-output:: sha256=[0-9a-f]{64}`).MatchString(s) {
		t.Errorf("no sha256 output:\n%s", tailLines(s, 40))
	}
}

func tailLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
