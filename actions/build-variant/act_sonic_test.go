package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/fredbook/udos-dist/internal/ghreplica"
	"github.com/fredbook/udos-dist/internal/pgpsign"
	"github.com/fredbook/udos-dist/internal/sonic/initramfs"
)

// ubuntuKernel is the kernel version the fake Ubuntu archive offers.
const ubuntuKernel = "6.8.0-99-generic"

// fakeUbuntuArchive repackages the test kernel the way Ubuntu ships its
// kernels (linux-image-<ver>-generic with boot/vmlinuz-<ver> at mode 0600,
// linux-modules-<ver>-generic with zstd-compressed lib/modules/<ver>/…
// .ko.zst: only the drivers the image loads, and modules.builtin) and
// writes apt-get and apt-cache stand-ins that serve those packages, log
// their calls to DIR/apt.log, and know no linux-modules-extra package.
// It returns the folder to put first on PATH.
func fakeUbuntuArchive(t *testing.T, kernel string) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	mods, _ := filepath.Glob(filepath.Join(filepath.Dir(kernel), "lib", "modules", "*"))
	order, err := (&initramfs.Modules{Dir: mods[0], Names: initramfs.DefaultModules}).Resolve()
	if err != nil {
		t.Fatal(err)
	}
	debs := filepath.Join(dir, "debs")
	img := filepath.Join(dir, "image")
	modRoot := filepath.Join(dir, "modules")
	modDir := filepath.Join(modRoot, "lib", "modules", ubuntuKernel)
	for _, rel := range order {
		data, err := os.ReadFile(filepath.Join(mods[0], rel))
		if err != nil {
			t.Fatal(err)
		}
		var z bytes.Buffer
		zw, _ := zstd.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		writeFileT(t, filepath.Join(modDir, rel+".zst"), z.Bytes(), 0o644)
	}
	builtin, err := os.ReadFile(filepath.Join(mods[0], "modules.builtin"))
	if err != nil {
		t.Fatal(err)
	}
	writeFileT(t, filepath.Join(modDir, "modules.builtin"), builtin, 0o644)
	vmlinuz, err := os.ReadFile(kernel)
	if err != nil {
		t.Fatal(err)
	}
	writeFileT(t, filepath.Join(img, "boot", "vmlinuz-"+ubuntuKernel), vmlinuz, 0o600)
	for pkg, root := range map[string]string{"linux-image-" + ubuntuKernel: img, "linux-modules-" + ubuntuKernel: modRoot} {
		control := fmt.Sprintf("Package: %s\nVersion: %s.99\nArchitecture: amd64\nMaintainer: test <t@example.org>\nDescription: test kernel package\n", pkg, ubuntuKernel)
		writeFileT(t, filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644)
		if err := os.MkdirAll(debs, 0o755); err != nil {
			t.Fatal(err)
		}
		sh(t, "", nil, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, filepath.Join(debs, pkg+".deb"))
	}
	bin = filepath.Join(dir, "bin")
	log = filepath.Join(dir, "apt.log")
	aptGet := `#!/bin/sh
echo "apt-get $*" >> ` + log + `
case "$1" in
update) exit 0 ;;
download)
  shift
  for p in "$@"; do
    case "$p" in -*) continue ;; esac
    cp "` + debs + `/$p.deb" "./${p}_` + ubuntuKernel + `.99_amd64.deb" || { echo "E: Can't find a source to download version of '$p'" >&2; exit 100; }
  done ;;
*) echo "apt-get stand-in: $1 not supported" >&2; exit 100 ;;
esac
`
	aptCache := `#!/bin/sh
echo "apt-cache $*" >> ` + log + `
case "$1 $2" in
"depends linux-image-generic")
  printf 'linux-image-generic\n  Depends: linux-image-` + ubuntuKernel + `\n  Depends: linux-firmware\n' ;;
"show "*)
  [ -f "` + debs + `/$2.deb" ] || { echo "E: No packages found" >&2; exit 100; }
  echo "Package: $2" ;;
*) echo "E: No packages found" >&2; exit 100 ;;
esac
`
	writeFileT(t, filepath.Join(bin, "apt-get"), []byte(aptGet), 0o755)
	writeFileT(t, filepath.Join(bin, "apt-cache"), []byte(aptCache), 0o755)
	return bin, log
}

func writeFileT(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}

// TestSonicJobDownloadsKernelWithAct runs the sonic job of release.yml
// alone, without a pinned kernel: it must find the current kernel through
// the linux-image-generic metapackage, download and unpack it with its
// .ko.zst modules, build, sign and upload the ISO to the draft. The ISO is
// then booted: SONIC-READY with the CD and the e1000 card found proves the
// drivers decompressed from .ko.zst load.
func TestSonicJobDownloadsKernelWithAct(t *testing.T) {
	act := needTool(t, "act", "/root/go/bin/act")
	for _, tool := range []string{"git", "go", "dpkg-deb", "dpkg", "grub-mkimage", "qemu-system-x86_64"} {
		needTool(t, tool)
	}
	kernel := testKernel(t)
	bin, aptLog := fakeUbuntuArchive(t, kernel)

	rep := ghreplica.New(ghreplica.Config{})
	rep.AddOwner("fredbook", true)
	rep.AddToken("test-token", ghreplica.Token{Login: "github-actions", Push: []string{"fredbook/*"}})
	if err := rep.AddRepo("fredbook", "uDOS", ghreplica.RepoSpec{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rep)
	defer srv.Close()
	priv, pub, err := pgpsign.GenerateTestKey("uDOS Release", "release@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	secrets := filepath.Join(work, "secrets.env")
	writeFileT(t, secrets, []byte(fmt.Sprintf("UDOS_SIGNING_KEY=\"%s\"\nGITHUB_TOKEN=test-token\n",
		strings.ReplaceAll(strings.TrimSpace(string(priv)), "\n", `\n`))), 0o600)
	event := filepath.Join(work, "event.json")
	writeFileT(t, event, []byte(`{"ref": "refs/tags/v1.4.6", "ref_name": "v1.4.6", "repository": {"full_name": "fredbook/uDOS", "name": "uDOS", "owner": {"login": "fredbook"}}}`), 0o644)
	repo := udosRepo(t)

	start := time.Now()
	r := runAct(t, act, repo, srv.URL, secrets, event, []string{"PATH=" + bin + ":" + os.Getenv("PATH")}, "-j", "sonic")
	t.Logf("act (sonic job): %s", time.Since(start).Round(time.Second))
	if r.err != nil {
		t.Fatalf("act: %v\n%s", r.err, tail(r.out, 60))
	}
	calls, _ := os.ReadFile(aptLog)
	for _, want := range []string{"apt-get update", "apt-cache depends linux-image-generic",
		"apt-get download -qq linux-image-" + ubuntuKernel + " linux-modules-" + ubuntuKernel + "\n"} {
		if !strings.Contains(string(calls), want) {
			t.Errorf("apt calls lack %q:\n%s", want, calls)
		}
	}
	if want := "downloaded linux-image-" + ubuntuKernel + " linux-modules-" + ubuntuKernel; !strings.Contains(r.out, want) {
		t.Errorf("the job did not report %q:\n%s", want, tail(r.out, 40))
	}

	rel, ok := rep.ReleaseByTag("fredbook", "uDOS", "v1.4.6")
	if !ok || !rel.Draft {
		t.Fatalf("release v1.4.6: found %v; the sonic job must leave a draft", ok)
	}
	assets := map[string]ghreplica.Asset{}
	for _, a := range rel.Assets {
		assets[a.Name] = a
	}
	const isoName = "udos-sonic-v1.4.6.iso"
	for _, n := range []string{isoName, isoName + ".asc", isoName + ".sha256", isoName + ".sha512", "udos-sonic-iso-v1.4.6.manifest.json", "udos-sonic-iso-v1.4.6.manifest.json.asc"} {
		if _, ok := assets[n]; !ok {
			t.Errorf("the draft lacks %s", n)
		}
	}
	if len(assets) != 6 {
		t.Errorf("%d assets on the draft, want the 6 of the sonic job", len(assets))
	}
	kr, err := pgpsign.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.VerifyDetached(bytes.NewReader(assets[isoName].Data), bytes.NewReader(assets[isoName+".asc"].Data)); err != nil {
		t.Errorf("ISO signature: %v", err)
	}

	iso := filepath.Join(work, isoName)
	writeFileT(t, iso, assets[isoName].Data, 0o644)
	out := bootUntilReady(t, "-cdrom", iso, "-nic", "user,model=e1000")
	line := regexp.MustCompile(`SONIC-READY [^\r\n]*`).FindString(out)
	if line == "" {
		t.Fatalf("no SONIC-READY line; serial output:\n%s", tail(out, 60))
	}
	t.Log(line)
	// The CD is on QEMU's IDE controller: ata_piix, cdrom and sr_mod are
	// modules in this kernel, so a disk is seen only if they loaded.
	if !strings.Contains(line, " disks=1 ") || !strings.Contains(line, " net=eth0:") {
		t.Errorf("drivers from the .ko.zst modules did not load (want disks=1 and net=eth0:…): %s\n%s", line, tail(out, 40))
	}
}

// bootUntilReady boots QEMU (TCG, BIOS) with args and returns the serial
// output up to the readiness line, then stops the VM (the release ISO has
// no sonic.poweroff).
func bootUntilReady(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	base := []string{"-accel", "tcg", "-m", "512", "-nographic", "-no-reboot", "-monitor", "none"}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", append(base, args...)...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	ready := make(chan struct{})
	go func() {
		b := make([]byte, 4096)
		closed := false
		for {
			n, err := pr.Read(b)
			mu.Lock()
			buf.Write(b[:n])
			if !closed && bytes.Contains(buf.Bytes(), []byte("SONIC-READY")) && bytes.Contains(buf.Bytes()[bytes.Index(buf.Bytes(), []byte("SONIC-READY")):], []byte("\n")) {
				close(ready)
				closed = true
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	select {
	case <-ready:
		cmd.Process.Kill()
		<-done
	case <-done:
	}
	mu.Lock()
	defer mu.Unlock()
	return buf.String()
}
