package slots

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/fredbook/udos-dist/internal/sonic/fatimg"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
)

// Device is an installed disk: a block device in the image, a plain file
// in tests.
type Device interface {
	io.ReaderAt
	io.WriterAt
	io.Seeker
	Stat() (fs.FileInfo, error)
	Read([]byte) (int, error)
	Close() error
	Sync() error
}

// GPT partition names of an A/B install.
const (
	ESPName   = "SONIC-ESP"
	SlotAName = "SONIC-A"
	SlotBName = "SONIC-B"
)

// Files of the ESP and of a slot.
const (
	// ChooserPath is the GRUB script that picks a slot; the GRUB binaries'
	// embedded configuration finds the ESP by it and runs it.
	ChooserPath = iso.DiskMarker
	// EnvPath is GRUB's environment block on the ESP.
	EnvPath = "SONIC/GRUBENV"
	// In each slot: the kernel, the initramfs, the GRUB lines booting
	// them, and the Sonic version they are.
	KernelPath  = "SLOT/VMLINUZ"
	InitrdPath  = "SLOT/INITRD.GZ"
	SlotCfgPath = "SLOT/SLOT.CFG"
	VersionPath = "SLOT/VERSION"
)

// Part is a partition: its GPT index and byte range on the disk.
type Part struct {
	Index  int
	Offset int64
	Size   int64
}

// Disk is an opened A/B install.
type Disk struct {
	dev Device
	// ESP, A and B are its partitions.
	ESP, A, B Part
	// Serial is the ESP's volume serial; slot a's file system has
	// Serial+1, slot b's Serial+2 (GRUB finds them by these).
	Serial uint32
}

// SlotSerial is the volume serial of slot s's file system on an install
// whose ESP has serial esp.
func SlotSerial(esp uint32, s string) uint32 {
	if s == B {
		return esp + 2
	}
	return esp + 1
}

// ErrNotAB is returned by Open for a disk without the A/B layout.
var ErrNotAB = errors.New("not an A/B Sonic install")

// Open reads dev's GPT and finds the ESP and the two slots.
func Open(dev Device) (*Disk, error) {
	t, err := gpt.Read(dev, 512, 512)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the GPT: %v", ErrNotAB, err)
	}
	d := &Disk{dev: dev}
	found := map[string]*Part{ESPName: &d.ESP, SlotAName: &d.A, SlotBName: &d.B}
	for i, p := range t.Partitions {
		if dst, ok := found[p.Name]; ok && p.Start > 0 {
			*dst = Part{Index: i + 1, Offset: int64(p.Start) * 512, Size: int64(p.End-p.Start+1) * 512}
			delete(found, p.Name)
		}
	}
	if len(found) > 0 {
		var missing []string
		for n := range found {
			missing = append(missing, n)
		}
		return nil, fmt.Errorf("%w: no %s partition (a disk installed before A/B slots: reinstall it from a Sonic medium)", ErrNotAB, strings.Join(missing, ", "))
	}
	if d.Serial, err = fatimg.VolumeID(d.part(d.ESP)); err != nil {
		return nil, fmt.Errorf("the %s partition: %w", ESPName, err)
	}
	return d, nil
}

func (d *Disk) part(p Part) *io.SectionReader { return io.NewSectionReader(d.dev, p.Offset, p.Size) }

// Slot returns slot s's partition.
func (d *Disk) Slot(s string) Part {
	if s == B {
		return d.B
	}
	return d.A
}

// State reads the environment block.
func (d *Disk) State() (State, error) {
	ext, err := fatimg.Locate(d.part(d.ESP), EnvPath)
	if err != nil {
		return State{}, fmt.Errorf("finding %s on the ESP: %w", EnvPath, err)
	}
	if ext.Size != EnvSize {
		return State{}, fmt.Errorf("%s is %d bytes, want %d", EnvPath, ext.Size, EnvSize)
	}
	b := make([]byte, EnvSize)
	if _, err := d.dev.ReadAt(b, d.ESP.Offset+ext.Offset); err != nil {
		return State{}, fmt.Errorf("reading %s: %w", EnvPath, err)
	}
	s, err := ParseEnv(b)
	if err != nil {
		return s, fmt.Errorf("%s: %w", EnvPath, err)
	}
	return s, nil
}

// SetState writes s into the environment block in place (GRUB's save_env
// does the same: the file keeps its clusters) and syncs.
func (d *Disk) SetState(s State) error {
	b, err := s.Env()
	if err != nil {
		return err
	}
	ext, err := fatimg.Locate(d.part(d.ESP), EnvPath)
	if err != nil {
		return fmt.Errorf("finding %s on the ESP: %w", EnvPath, err)
	}
	if ext.Size != EnvSize {
		return fmt.Errorf("%s is %d bytes, want %d", EnvPath, ext.Size, EnvSize)
	}
	// Only the first sector changes (Env keeps the variables there).
	if _, err := d.dev.WriteAt(b[:512], d.ESP.Offset+ext.Offset); err != nil {
		return fmt.Errorf("writing %s: %w", EnvPath, err)
	}
	if err := d.dev.Sync(); err != nil {
		return fmt.Errorf("flushing %s: %w", EnvPath, err)
	}
	return nil
}

// readFile reads a small file of slot s.
func (d *Disk) readFile(s, p string, max int64) ([]byte, error) {
	part := d.part(d.Slot(s))
	ext, err := fatimg.Locate(part, p)
	if err != nil {
		return nil, fmt.Errorf("slot %s: %w", s, err)
	}
	if ext.Size > max {
		return nil, fmt.Errorf("slot %s: %s is %d bytes, more than %d", s, p, ext.Size, max)
	}
	b := make([]byte, ext.Size)
	if _, err := part.ReadAt(b, ext.Offset); err != nil {
		return nil, fmt.Errorf("slot %s: reading %s: %w", s, p, err)
	}
	return b, nil
}

// Version is the Sonic version slot s holds ("" for an empty slot).
func (d *Disk) Version(s string) (string, error) {
	b, err := d.readFile(s, VersionPath, 64)
	if errors.Is(err, fatimg.ErrNotFound) {
		return "", nil
	}
	return strings.TrimSpace(string(b)), err
}

// Cmdline is the kernel command line slot s boots with, less the options
// naming the slot (SlotFiles adds those for the slot written).
func (d *Disk) Cmdline(s string) (string, error) {
	b, err := d.readFile(s, SlotCfgPath, 4096)
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(first)
	if len(f) < 2 || f[0] != "linux" {
		return "", fmt.Errorf("slot %s: %s does not start with a linux line", s, SlotCfgPath)
	}
	var keep []string
	for _, o := range f[2:] {
		if !strings.HasPrefix(o, "sonic.slot=") && !strings.HasPrefix(o, "sonic.esp=") {
			keep = append(keep, o)
		}
	}
	return strings.Join(keep, " "), nil
}

// Payload is what a slot holds.
type Payload struct {
	Kernel, Initrd fatimg.File // their Path is ignored
	// Cmdline is the kernel command line, without sonic.slot/sonic.esp.
	Cmdline string
	Version string
}

// SlotConfig is the GRUB script of slot s: its kernel, with the command
// line naming the slot and the install (sonic.esp, the ESP's serial), and
// its initramfs.
func SlotConfig(s string, esp uint32, cmdline string) string {
	cmd := strings.TrimSpace(fmt.Sprintf("%s sonic.slot=%s sonic.esp=%08x", cmdline, s, esp))
	return "linux /" + KernelPath + " " + cmd + "\ninitrd /" + InitrdPath + "\nboot\n"
}

// SlotFiles are the files of slot s holding p.
func SlotFiles(s string, esp uint32, p Payload) []fatimg.File {
	k, i := p.Kernel, p.Initrd
	k.Path, i.Path = KernelPath, InitrdPath
	return []fatimg.File{k, i,
		fatimg.BytesFile(SlotCfgPath, []byte(SlotConfig(s, esp, p.Cmdline))),
		fatimg.BytesFile(VersionPath, []byte(p.Version+"\n")),
	}
}

// SlotNeed is the bytes a slot holding p needs.
func SlotNeed(p Payload) int64 { return p.Kernel.Size + p.Initrd.Size + 64<<10 }

// ESPFiles are the A/B files of a fresh ESP: the chooser script and an
// environment block naming slot a.
func ESPFiles(esp uint32) []fatimg.File {
	env, _ := State{Default: A}.Env()
	return []fatimg.File{
		fatimg.BytesFile(ChooserPath, []byte(ChooserConfig(esp))),
		fatimg.BytesFile(EnvPath, env),
	}
}

// ChooserConfig is the GRUB script on the ESP of an install whose ESP has
// serial esp. It loads the environment block; a trial still holding its
// try has the try spent (saved) before its slot is booted, and is not
// booted at all when the save fails, so a trial slot is booted at most
// once. A slot that does not load (no or broken kernel) is passed over for
// the default one.
func ChooserConfig(esp uint32) string {
	uuid := func(s string) string {
		v := SlotSerial(esp, s)
		return fmt.Sprintf("%04x-%04x", v>>16, v&0xffff)
	}
	return `set sonic_default=a
set sonic_trial=
set sonic_tries=0
load_env --file /` + EnvPath + ` sonic_default sonic_trial sonic_tries
set sonic_slot=$sonic_default
if [ -n "$sonic_trial" ]; then
  if [ "$sonic_tries" = 1 ]; then
    set sonic_tries=0
    if save_env --file /` + EnvPath + ` sonic_tries; then
      set sonic_slot=$sonic_trial
    fi
  fi
fi
function sonic_boot {
  if [ "$1" = b ]; then
    search --no-floppy --fs-uuid --set=root ` + uuid(B) + `
  else
    search --no-floppy --fs-uuid --set=root ` + uuid(A) + `
  fi
  echo "sonic: booting slot $1"
  source /` + SlotCfgPath + `
}
sonic_boot $sonic_slot
if [ "$sonic_slot" != "$sonic_default" ]; then
  echo "sonic: slot $sonic_slot did not load; booting slot $sonic_default"
  sonic_boot $sonic_default
fi
echo "SONIC-BOOT-FAILED no slot could be loaded"
`
}

// WriteSlot writes a fresh file system holding p into slot s, syncs it and
// reads the kernel and the initramfs back through the new file system to
// compare digests. The boot sector goes last: until then the slot holds no
// file system (it is zeroed first), so a write cut short leaves nothing
// GRUB could take for a slot.
func (d *Disk) WriteSlot(ctx context.Context, s string, p Payload) error {
	part := d.Slot(s)
	files := SlotFiles(s, d.Serial, p)
	if need := SlotNeed(p); need > part.Size-part.Size/20 {
		return fmt.Errorf("slot %s is %d MiB: too small for this image's %d MiB kernel and initramfs", s, part.Size>>20, need>>20)
	}
	sums := map[string]hash.Hash{}
	for i := range files[:2] {
		f := &files[i]
		h := sha256.New()
		sums[f.Path] = h
		open := f.Open
		f.Open = func() (io.ReadCloser, error) {
			r, err := open()
			if err != nil {
				return nil, err
			}
			return struct {
				io.Reader
				io.Closer
			}{&ctxReader{ctx, io.TeeReader(r, h)}, r}, nil
		}
	}
	w := &deferBoot{w: io.NewOffsetWriter(d.dev, part.Offset)}
	if _, err := w.w.WriteAt(make([]byte, 512), 0); err != nil {
		return fmt.Errorf("clearing slot %s: %w", s, err)
	}
	if err := d.dev.Sync(); err != nil {
		return fmt.Errorf("flushing slot %s: %w", s, err)
	}
	if err := fatimg.Write(w, files, d.slotFS(s)); err != nil {
		return fmt.Errorf("writing slot %s: %w", s, err)
	}
	if err := d.dev.Sync(); err != nil {
		return fmt.Errorf("flushing slot %s: %w", s, err)
	}
	if _, err := w.w.WriteAt(w.boot, 0); err != nil {
		return fmt.Errorf("writing slot %s's boot sector: %w", s, err)
	}
	if err := d.dev.Sync(); err != nil {
		return fmt.Errorf("flushing slot %s: %w", s, err)
	}
	// Read back through the new file system.
	sec := d.part(part)
	for _, path := range []string{KernelPath, InitrdPath} {
		ext, err := fatimg.Locate(sec, path)
		if err != nil {
			return fmt.Errorf("slot %s: reading back: %w", s, err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(sec, ext.Offset, ext.Size)); err != nil {
			return fmt.Errorf("slot %s: reading back %s: %w", s, path, err)
		}
		if !bytes.Equal(h.Sum(nil), sums[path].Sum(nil)) {
			return fmt.Errorf("slot %s: %s read back differs from what was written (a failing disk?)", s, path)
		}
	}
	return nil
}

func (d *Disk) slotFS(s string) fatimg.Options {
	part, label := d.Slot(s), SlotAName
	if s == B {
		label = SlotBName
	}
	return fatimg.Options{Size: part.Size, Label: label, VolumeID: SlotSerial(d.Serial, s), HiddenSectors: uint32(part.Offset / 512),
		MinCluster: 16 << 10}
}

// Blank writes an empty file system into slot s (a fresh install's second
// slot): GRUB finds it but nothing to boot in it.
func (d *Disk) Blank(s string) error {
	part := d.Slot(s)
	// Zero the old file system's first MiB so no stale file shows through.
	if _, err := d.dev.WriteAt(make([]byte, min(part.Size, 1<<20)), part.Offset); err != nil {
		return fmt.Errorf("clearing slot %s: %w", s, err)
	}
	if err := fatimg.Write(io.NewOffsetWriter(d.dev, part.Offset), nil, d.slotFS(s)); err != nil {
		return fmt.Errorf("writing slot %s: %w", s, err)
	}
	if err := d.dev.Sync(); err != nil {
		return fmt.Errorf("flushing slot %s: %w", s, err)
	}
	return nil
}

// deferBoot holds back the write of sector 0 (the boot sector).
type deferBoot struct {
	w    io.WriterAt
	boot []byte
}

func (d *deferBoot) WriteAt(p []byte, off int64) (int, error) {
	if off == 0 && len(p) == 512 && d.boot == nil {
		d.boot = append([]byte(nil), p...)
		return len(p), nil
	}
	if off < 512 {
		return 0, fmt.Errorf("unexpected write at %d into the boot sector", off)
	}
	return d.w.WriteAt(p, off)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Update puts p into the slot that is not running and arms it for one
// trial boot, returning that slot. Nothing is written when the running slot
// is not the committed one. A pending trial of the target slot is cancelled
// before the slot is overwritten; the new trial is armed only once the
// slot is written and read back.
func (d *Disk) Update(ctx context.Context, running string, p Payload) (string, error) {
	st, err := d.State()
	if err != nil {
		return "", err
	}
	armed, err := Arm(st, running)
	if err != nil {
		return "", err
	}
	target := Other(running)
	if dis := Disarm(st, target); dis != st {
		if err := d.SetState(dis); err != nil {
			return "", err
		}
	}
	if err := d.WriteSlot(ctx, target, p); err != nil {
		return "", err
	}
	return target, d.SetState(armed)
}

// Ready settles the slots once the runtime is ready in slot running:
// commits a trial of it, or clears a trial of the other slot that did not
// reach ready. It returns what it did and the state before.
func (d *Disk) Ready(running string) (Event, State, error) {
	st, err := d.State()
	if err != nil {
		return Nothing, st, err
	}
	next, ev := AtReady(st, running)
	if ev == Nothing {
		return ev, st, nil
	}
	return ev, st, d.SetState(next)
}

// Find opens the first of devices (whole-disk paths) that holds the A/B
// install whose ESP has serial esp (0: any).
func Find(devices []string, esp uint32) (*Disk, string, error) {
	var tried []string
	for _, dev := range devices {
		f, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			tried = append(tried, dev+": "+err.Error())
			continue
		}
		d, err := Open(f)
		if err == nil && esp != 0 && d.Serial != esp {
			err = fmt.Errorf("another install (ESP %08x)", d.Serial)
		}
		if err != nil {
			f.Close()
			tried = append(tried, dev+": "+err.Error())
			continue
		}
		return d, dev, nil
	}
	return nil, "", fmt.Errorf("no disk holds the A/B Sonic install with ESP %08x (%s)", esp, strings.Join(tried, "; "))
}

// Close releases the device.
func (d *Disk) Close() error { return d.dev.Close() }

// PartitionPath is the device node of partition n of disk (/dev/vda →
// /dev/vda3, /dev/nvme0n1 → /dev/nvme0n1p3).
func PartitionPath(disk string, n int) string {
	if last := disk[len(disk)-1]; last >= '0' && last <= '9' {
		return fmt.Sprintf("%sp%d", disk, n)
	}
	return fmt.Sprintf("%s%d", disk, n)
}
