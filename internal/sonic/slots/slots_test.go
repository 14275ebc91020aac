package slots

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/fredbook/udos-dist/internal/sonic/fatimg"
	"github.com/fredbook/udos-dist/internal/testenv"
)

func TestEnvRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []State{{Default: A}, {Default: B}, {Default: A, Trial: B, Tries: 1}, {Default: B, Trial: A, Tries: 0}} {
		b, err := s.Env()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != EnvSize || bytes.IndexByte(b, '#') != 0 || bytes.Contains(b[512:], []byte("=")) {
			t.Fatalf("%+v: block not %d bytes with its variables in the first sector:\n%s", s, EnvSize, b)
		}
		got, err := ParseEnv(b)
		if err != nil || got != s {
			t.Errorf("round trip of %+v: %+v, %v", s, got, err)
		}
	}
}

// TestEnvGrubEditenv checks the format against GRUB's own tool, both ways:
// grub-editenv lists a block Env wrote, and ParseEnv reads one
// grub-editenv wrote (as save_env writes it: same code in GRUB).
func TestEnvGrubEditenv(t *testing.T) {
	t.Parallel()
	editenv := testenv.Tool(t, "grub-editenv")
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours")
	b, _ := State{Default: B, Trial: A, Tries: 1}.Env()
	os.WriteFile(ours, b, 0o644)
	out, err := exec.Command(editenv, ours, "list").CombinedOutput()
	if err != nil {
		t.Fatalf("grub-editenv list: %v\n%s", err, out)
	}
	if string(out) != "sonic_default=b\nsonic_trial=a\nsonic_tries=1\n" {
		t.Errorf("grub-editenv lists %q", out)
	}
	// GRUB spends the try: the variable is rewritten in place.
	if out, err := exec.Command(editenv, ours, "set", "sonic_tries=0", "other=x").CombinedOutput(); err != nil {
		t.Fatalf("grub-editenv set: %v\n%s", err, out)
	}
	b, _ = os.ReadFile(ours)
	got, err := ParseEnv(b)
	if err != nil || got != (State{Default: B, Trial: A, Tries: 0}) {
		t.Errorf("after grub-editenv set: %+v, %v", got, err)
	}
	theirs := filepath.Join(dir, "theirs")
	if out, err := exec.Command(editenv, theirs, "create").CombinedOutput(); err != nil {
		t.Fatalf("grub-editenv create: %v\n%s", err, out)
	}
	b, _ = os.ReadFile(theirs)
	if got, err := ParseEnv(b); err != nil || got != (State{Default: A}) {
		t.Errorf("an empty block: %+v, %v (want slot a)", got, err)
	}
}

func TestParseEnvRefuses(t *testing.T) {
	t.Parallel()
	pad := func(s string) []byte {
		return append([]byte(envHeader+s), bytes.Repeat([]byte{'#'}, EnvSize-len(envHeader)-len(s))...)
	}
	for name, b := range map[string][]byte{
		"short":       []byte(envHeader),
		"no header":   bytes.Repeat([]byte{'#'}, EnvSize),
		"bad default": pad("sonic_default=c\n"),
		"bad trial":   pad("sonic_trial=x\n"),
		"bad tries":   pad("sonic_tries=-1\n"),
		"not k=v":     pad("garbage\n"),
	} {
		if _, err := ParseEnv(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		state   State
		running string
		next    State
		event   Event
	}{
		{"no trial", State{Default: A}, A, State{Default: A}, Nothing},
		{"trial reached ready", State{Default: A, Trial: B, Tries: 0}, B, State{Default: B}, Committed},
		{"trial failed, default booted", State{Default: A, Trial: B, Tries: 0}, A, State{Default: A}, FellBack},
		{"try never spent", State{Default: A, Trial: B, Tries: 1}, A, State{Default: A}, FellBack},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, ev := AtReady(tc.state, tc.running)
			if next != tc.next || ev != tc.event {
				t.Errorf("AtReady(%+v, %s) = %+v, %q; want %+v, %q", tc.state, tc.running, next, ev, tc.next, tc.event)
			}
		})
	}
	if s, err := Arm(State{Default: A}, A); err != nil || s != (State{Default: A, Trial: B, Tries: 1}) {
		t.Errorf("Arm from a: %+v, %v", s, err)
	}
	if _, err := Arm(State{Default: A}, B); !errors.Is(err, ErrNotCommitted) {
		t.Errorf("Arm while running the non-default slot: %v", err)
	}
	if s := Disarm(State{Default: A, Trial: B, Tries: 1}, B); s != (State{Default: A}) {
		t.Errorf("Disarm: %+v", s)
	}
}

// newDisk lays out an A/B disk as the installer does (GPT, ESP with the
// chooser and the environment block, slot a holding kernel and initramfs,
// slot b blank) in a file.
func newDisk(t *testing.T) (*Disk, *os.File) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.raw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	const size = 100 << 20
	f.Truncate(size)
	table := &gpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true, Partitions: []*gpt.Partition{
		{Index: 1, Start: 2048, End: 2048 + 16<<11 - 1, Size: 16 << 20, Type: gpt.EFISystemPartition, Name: ESPName},
		{Index: 2, Start: 2048 + 16<<11, End: 2048 + 56<<11 - 1, Size: 40 << 20, Type: gpt.MicrosoftBasicData, Name: SlotAName},
		{Index: 3, Start: 2048 + 56<<11, End: 2048 + 96<<11 - 1, Size: 40 << 20, Type: gpt.MicrosoftBasicData, Name: SlotBName},
	}}
	if err := table.Write(f, size); err != nil {
		t.Fatal(err)
	}
	if err := fatimg.Write(io.NewOffsetWriter(f, 1<<20), ESPFiles(0x1234abcd), fatimg.Options{Size: 16 << 20, VolumeID: 0x1234abcd}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteSlot(context.Background(), A, payload("1.4.3", 'K', 'I')); err != nil {
		t.Fatal(err)
	}
	if err := d.Blank(B); err != nil {
		t.Fatal(err)
	}
	return d, f
}

func payload(version string, k, i byte) Payload {
	return Payload{
		Kernel:  fatimg.BytesFile("k", bytes.Repeat([]byte{k}, 3<<20+17)),
		Initrd:  fatimg.BytesFile("i", bytes.Repeat([]byte{i}, 7<<20+5)),
		Cmdline: "console=ttyS0 sonic.source=disk panic=10", Version: version,
	}
}

func digest(t *testing.T, f *os.File) [32]byte {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestUpdateTrialCommit(t *testing.T) {
	t.Parallel()
	d, f := newDisk(t)
	if d.Serial != 0x1234abcd || d.ESP.Index != 1 || d.A.Index != 2 || d.B.Index != 3 {
		t.Fatalf("opened %+v", d)
	}
	if v, _ := d.Version(A); v != "1.4.3" {
		t.Fatalf("slot a holds %q", v)
	}
	target, err := d.Update(context.Background(), A, payload("1.4.6", 'k', 'i'))
	if err != nil || target != B {
		t.Fatalf("Update = %s, %v", target, err)
	}
	st, _ := d.State()
	if st != (State{Default: A, Trial: B, Tries: 1}) {
		t.Fatalf("armed state %+v", st)
	}
	if v, _ := d.Version(B); v != "1.4.6" {
		t.Errorf("slot b holds %q", v)
	}
	if c, err := d.Cmdline(B); err != nil || c != "console=ttyS0 sonic.source=disk panic=10" {
		t.Errorf("slot b cmdline %q, %v", c, err)
	}
	if v, _ := d.Version(A); v != "1.4.3" {
		t.Errorf("the running slot changed: %q", v)
	}
	// mtools reads the new slot's file system and its GRUB lines.
	if mcopy := testenv.Tool(t, "mcopy"); mcopy != "" {
		out, err := exec.Command(mcopy, "-n", "-i", f.Name()+"@@"+strconv.FormatInt(d.B.Offset, 10), "::/"+SlotCfgPath, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("mcopy: %v\n%s", err, out)
		}
		want := "linux /SLOT/VMLINUZ console=ttyS0 sonic.source=disk panic=10 sonic.slot=b sonic.esp=1234abcd\ninitrd /SLOT/INITRD.GZ\nboot\n"
		if string(out) != want {
			t.Errorf("SLOT.CFG %q, want %q", out, want)
		}
	}
	// GRUB spends the try and boots b, whose runtime commits it.
	st.Tries = 0
	if err := d.SetState(st); err != nil {
		t.Fatal(err)
	}
	ev, _, err := d.Ready(B)
	if err != nil || ev != Committed {
		t.Fatalf("Ready(b) = %q, %v", ev, err)
	}
	if st, _ := d.State(); st != (State{Default: B}) {
		t.Errorf("committed state %+v", st)
	}
	// The next update goes to a.
	if target, err := d.Update(context.Background(), B, payload("1.4.7", 'x', 'y')); err != nil || target != A {
		t.Errorf("second update = %s, %v", target, err)
	}
}

func TestUpdateFallback(t *testing.T) {
	t.Parallel()
	d, _ := newDisk(t)
	if _, err := d.Update(context.Background(), A, payload("1.4.6", 'k', 'i')); err != nil {
		t.Fatal(err)
	}
	// GRUB spent the try; the trial never reached ready; GRUB then booted
	// the default, whose runtime clears the trial.
	d.SetState(State{Default: A, Trial: B, Tries: 0})
	ev, before, err := d.Ready(A)
	if err != nil || ev != FellBack || before.Trial != B {
		t.Fatalf("Ready(a) = %q, %+v, %v", ev, before, err)
	}
	if st, _ := d.State(); st != (State{Default: A}) {
		t.Errorf("state after fallback %+v", st)
	}
	if ev, _, _ := d.Ready(A); ev != Nothing {
		t.Errorf("a second ready reports %q", ev)
	}
}

func TestUpdateRefuses(t *testing.T) {
	t.Parallel()
	t.Run("running slot not committed", func(t *testing.T) {
		d, f := newDisk(t)
		before := digest(t, f)
		if _, err := d.Update(context.Background(), B, payload("1.4.6", 'k', 'i')); !errors.Is(err, ErrNotCommitted) {
			t.Fatalf("err = %v", err)
		}
		if digest(t, f) != before {
			t.Error("a refused update wrote to the disk")
		}
	})
	t.Run("image too big for the slot", func(t *testing.T) {
		d, f := newDisk(t)
		before := digest(t, f)
		p := payload("1.4.6", 'k', 'i')
		p.Initrd = fatimg.BytesFile("i", make([]byte, 39<<20))
		if _, err := d.Update(context.Background(), A, p); err == nil || !strings.Contains(err.Error(), "too small") {
			t.Fatalf("err = %v", err)
		}
		if digest(t, f) != before {
			t.Error("a refused update wrote to the disk")
		}
	})
	t.Run("write cut short", func(t *testing.T) {
		d, _ := newDisk(t)
		// A pending trial of b from an earlier update is cancelled first.
		if _, err := d.Update(context.Background(), A, payload("1.4.5", 'k', 'i')); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		p := payload("1.4.6", 'k', 'i')
		open := p.Initrd.Open
		p.Initrd.Open = func() (io.ReadCloser, error) {
			cancel()
			return open()
		}
		if _, err := d.Update(ctx, A, p); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if st, _ := d.State(); st != (State{Default: A}) {
			t.Errorf("state after a cut write %+v: the half-written slot must not be armed", st)
		}
		if _, err := d.Version(B); err == nil {
			t.Error("the half-written slot has a readable file system (its boot sector must come last)")
		}
		if v, _ := d.Version(A); v != "1.4.3" {
			t.Errorf("the running slot changed: %q", v)
		}
	})
	t.Run("not an A/B disk", func(t *testing.T) {
		f, _ := os.Create(filepath.Join(t.TempDir(), "blank"))
		defer f.Close()
		f.Truncate(8 << 20)
		if _, err := Open(f); !errors.Is(err, ErrNotAB) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestChooserConfig(t *testing.T) {
	t.Parallel()
	c := ChooserConfig(0x1234abcd)
	for _, want := range []string{
		"load_env --file /SONIC/GRUBENV sonic_default sonic_trial sonic_tries",
		// The try is spent (saved) before the trial slot is chosen.
		"set sonic_tries=0\n    if save_env --file /SONIC/GRUBENV sonic_tries; then\n      set sonic_slot=$sonic_trial",
		"search --no-floppy --fs-uuid --set=root 1234-abce", // slot a: serial+1
		"search --no-floppy --fs-uuid --set=root 1234-abcf", // slot b: serial+2
		"source /SLOT/SLOT.CFG",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("chooser lacks %q:\n%s", want, c)
		}
	}
}

func TestPartitionPath(t *testing.T) {
	t.Parallel()
	for disk, want := range map[string]string{"/dev/vda": "/dev/vda3", "/dev/nvme0n1": "/dev/nvme0n1p3", "/dev/mmcblk0": "/dev/mmcblk0p3"} {
		if got := PartitionPath(disk, 3); got != want {
			t.Errorf("PartitionPath(%s) = %s", disk, got)
		}
	}
}
