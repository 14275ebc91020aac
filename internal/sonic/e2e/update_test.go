package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/coreinst/coretest"
	"github.com/fredbook/udos-dist/internal/sonic/build"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/iso/isotest"
	"github.com/fredbook/udos-dist/internal/sonic/runtime"
	"github.com/fredbook/udos-dist/internal/sonic/update/updatetest"
)

// udosLib is cmd/udos-lib, static, for build.Options.Bins.
func udosLib(t testing.TB) string {
	return staticBin(t, "github.com/fredbook/udos-dist/cmd/udos-lib")
}

// keyringRootfs is a base root file system holding the release key at
// /etc/udos/release.pub.asc, as a release image would ship it.
func keyringRootfs(t *testing.T, pub []byte) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(src, "etc", "udos"), 0o755)
	if err := os.WriteFile(filepath.Join(src, "etc", "udos", "release.pub.asc"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return tarDir(t, src, filepath.Join(dir, "rootfs.tar.gz"))
}

// TestUpdateAB is the A/B update of an installed Sonic in one QEMU machine
// (SeaBIOS, user networking): Sonic 1.4.3 installed to a blank disk boots
// from slot a; `udos-lib sonic update` inside it, against a signed mirror
// on the host (10.0.2.2), refuses an image with a tampered block and
// changes nothing; takes a signed 1.4.6 whose initramfs is broken into slot
// b, whose trial boot panics, after which the machine falls back to slot a
// by itself; then takes the good 1.4.6 into slot b, which boots, reaches
// ready and is committed.
func TestUpdateAB(t *testing.T) {
	t.Parallel()
	vmlinuz, modules := isotest.Kernel(t, iso.AMD64)
	need(t, "qemu", "qemu-system-x86_64", "qemu-system-x86")
	tools := isotest.Tools(t, iso.AMD64)
	key, err := coretest.NewKey("uDOS Release")
	if err != nil {
		t.Fatal(err)
	}
	rootfs := keyringRootfs(t, key.Pub)
	images := map[string]build.Result{}
	for _, v := range []string{"1.4.3", "1.4.6"} {
		res, err := build.Build(context.Background(), build.Options{
			Version: v, Kernel: vmlinuz, Modules: modules, Rootfs: rootfs,
			Busybox: need(t, "busybox", "/bin/busybox", "busybox-static"),
			Runtime: sonicRuntime(t), Bins: []string{udosLib(t)},
			OutputDir: t.TempDir(), Time: epoch, Tools: tools, TempDir: t.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		images[v] = res
	}
	old, err := os.ReadFile(images["1.4.3"].ISO)
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(images["1.4.6"].ISO)
	if err != nil {
		t.Fatal(err)
	}
	// A signed 1.4.6 that does not boot: its initramfs does not unpack
	// (the kernel then finds no root and panics). Built from the good
	// image's kernel and initramfs with the initramfs's first 4 KiB
	// overwritten (not zeroed: the kernel skips zeros as padding).
	brokenISO := brokenImage(t, tools, images["1.4.6"].ISO)
	broken, err := os.ReadFile(brokenISO)
	if err != nil {
		t.Fatal(err)
	}

	mirror := t.TempDir()
	ctx := context.Background()
	for _, m := range []struct {
		dir   string
		image []byte
	}{{"tampered", good}, {"broken", broken}, {"good", good}} {
		dir := filepath.Join(mirror, m.dir)
		os.MkdirAll(dir, 0o755)
		if err := updatetest.Release(ctx, dir, "1.4.6", "1.4.3", m.image, key); err != nil {
			t.Fatal(err)
		}
	}
	// One byte of a block the guest has to download (the first one where
	// 1.4.6 differs from 1.4.3: ISO metadata, in no slot) flipped after
	// signing.
	tampered := filepath.Join(mirror, "tampered", filepath.Base(images["1.4.6"].ISO))
	b, _ := os.ReadFile(tampered)
	at := 0
	for at < len(b) && at < len(old) && b[at] == old[at] {
		at++
	}
	b[at] ^= 0xff
	os.WriteFile(tampered, b, 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(mirror)))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]

	// Install 1.4.3 onto a blank disk (the in-guest installer is
	// TestInstall's; here the same code runs on the host).
	disk := filepath.Join(t.TempDir(), "disk.raw")
	df, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	df.Truncate(256 << 20)
	medium, err := runtime.FindMedium([]string{images["1.4.3"].ISO}, "1.4.3")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := runtime.Install(ctx, df, runtime.InstallOptions{Source: medium.FS, Version: "1.4.3",
		Cmdline: "console=tty0 console=ttyS0,115200", VolumeID: 0x5011c0de})
	medium.Close()
	df.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("installed 1.4.3: slots of %d MiB", inst.SlotBytes>>20)

	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	con := bootConsole(ctx, t, exec.CommandContext, slotPC, "-nic", "user,model=e1000", "-drive", "file="+disk+",format=raw,if=virtio")
	out := con.out
	defer func() {
		if os.Getenv("SONIC_E2E_LOG") != "" || t.Failed() {
			t.Log(tail(out.String()))
		}
	}()
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// shell waits for the ready line (checking its version and slot) and
	// the shell, and sets the prompt the steps wait for.
	shell := func(version, slot string) {
		t.Helper()
		re := regexp.MustCompile(`SONIC-READY [^\r\n]*version=` + regexp.QuoteMeta(version) + ` [^\r\n]*source=disk slot=` + slot)
		step("ready "+version+" in slot "+slot, con.expect(ctx, "the ready line of "+version+" in slot "+slot, re))
		step("shell", con.expect(ctx, "the shell prompt", rootPromptRE))
		step("prompt", con.run(ctx, `PS1='SONIC''-PROMPT# '`))
	}
	// update runs udos-lib sonic update against a mirror; with reboot it
	// ends in a reboot, so no prompt follows: wait for the slot armed.
	update := func(from string, reboot bool) {
		t.Helper()
		line := "udos-lib sonic update --from http://10.0.2.2:" + port + "/" + from + " --keyring /etc/udos/release.pub.asc"
		if !reboot {
			step("update", con.run(ctx, line+"; echo RC=$?"))
			return
		}
		step("update", con.send(line+" --reboot"))
		step("update", con.expect(ctx, "slot b armed", regexp.MustCompile(`Slot b holds Sonic 1\.4\.6, armed for one trial boot`)))
	}
	rc := regexp.MustCompile(`RC=(\d+)`)
	lastRC := func() string {
		m := rc.FindAllStringSubmatch(out.String(), -1)
		if len(m) == 0 {
			return ""
		}
		return m[len(m)-1][1]
	}

	shell("1.4.3", "a")
	// A tampered block: refused, the disk's ESP and slot b unchanged.
	step("digest", con.run(ctx, "sha256sum /dev/vda1 /dev/vda4 > /run/before"))
	update("tampered", false)
	if got := lastRC(); got == "0" || got == "" {
		t.Fatalf("the tampered image was accepted (exit %q)", got)
	}
	step("compare", con.run(ctx, "sha256sum /dev/vda1 /dev/vda4 | cmp -s - /run/before; echo UNTOUCHED=$?"))
	if !strings.Contains(out.String(), "UNTOUCHED=0") {
		t.Fatalf("a refused update changed the ESP or slot b")
	}
	if !strings.Contains(out.String(), "does not match the signed index") {
		t.Errorf("the refusal does not name the tampered block")
	}

	// The broken 1.4.6: armed, its trial boot panics, the machine falls
	// back to slot a by itself.
	update("broken", true)
	step("trial boot", con.expect(ctx, "the trial boot of slot b", regexp.MustCompile(`sonic: booting slot b`)))
	step("fallback", con.expect(ctx, "the fallback", regexp.MustCompile(`SONIC-FALLBACK slot=b did not reach ready`)))
	shell("1.4.3", "a")

	// The good 1.4.6: armed, boots, reaches ready, committed.
	update("good", true)
	step("commit", con.expect(ctx, "the commit of slot b", regexp.MustCompile(`SONIC-SLOT committed slot=b version=1\.4\.6`)))
	shell("1.4.6", "b")
	step("poweroff", con.send("poweroff -f"))
	select {
	case <-con.exited:
	case <-ctx.Done():
		t.Fatalf("no power off")
	}
	s := out.String()
	for _, want := range []string{"armed for one trial boot", "Kernel panic"} {
		if !strings.Contains(s, want) {
			t.Errorf("console lacks %q", want)
		}
	}
}

// slotPC is pc with 768 MiB that does not exit on a reboot: the A/B test
// reboots into a trial slot and falls back or commits across reboots.
var slotPC = machine{bin: pc.bin, base: []string{"-accel", "tcg", "-m", "768", "-nographic", "-monitor", "none"}}

// brokenImage is an ISO of the image at good's kernel with an initramfs
// that does not unpack.
func brokenImage(t *testing.T, tools iso.Tools, good string) string {
	t.Helper()
	m, err := runtime.FindMedium([]string{good}, "1.4.6")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := t.TempDir()
	for name, p := range map[string]string{"vmlinuz": iso.KernelPath, "initrd.gz": iso.InitrdPath} {
		r, err := m.FS.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if name == "initrd.gz" {
			copy(b, strings.Repeat("BROKEN-INITRAMFS", 256))
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	out := filepath.Join(dir, "broken.iso")
	if _, err := iso.Build(context.Background(), iso.Options{Version: "1.4.6", Kernel: filepath.Join(dir, "vmlinuz"),
		Initramfs: filepath.Join(dir, "initrd.gz"), Output: out, Time: epoch, Tools: tools, TempDir: dir}); err != nil {
		t.Fatal(err)
	}
	return out
}
