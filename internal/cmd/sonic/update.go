package sonic

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
	"github.com/fredbook/udos-dist/internal/coreinst"
	"github.com/fredbook/udos-dist/internal/ghrelease"
	"github.com/fredbook/udos-dist/internal/sonic/fatimg"
	"github.com/fredbook/udos-dist/internal/sonic/iso"
	"github.com/fredbook/udos-dist/internal/sonic/runtime"
	"github.com/fredbook/udos-dist/internal/sonic/slots"
	"github.com/fredbook/udos-dist/internal/sonic/update"
)

type updateOpts struct {
	check   bool
	to      string
	from    string
	write   string
	yes     bool
	current string
	images  []string
	output  string
	arch    string
	reboot  bool

	background bool
	status     bool
	// progress, when set, is told of the bytes placed (the background
	// job's status file).
	progress func(version string, done, total int64)
}

// updateReport is --json's document.
type updateReport struct {
	*update.Offer
	Download *update.Result `json:"download,omitempty"`
	Written  string         `json:"written_to,omitempty"`
	Slot     *slotReport    `json:"slot,omitempty"`
}

// slotReport is an installed Sonic's A/B update: the slot running, the one
// written and armed for a trial boot, and the state written.
type slotReport struct {
	Disk    string      `json:"disk"`
	Running string      `json:"running"`
	Updated string      `json:"updated,omitempty"`
	State   slots.State `json:"state"`
}

// procCmdline is where an installed Sonic's slot is read from.
var procCmdline = "/proc/cmdline"

func newUpdate(f *factory.Factory) *cobra.Command {
	o := &updateOpts{}
	c := &cobra.Command{
		Use:   "update [--check] [--to VERSION] [--from SOURCE] [--write DEVICE] [--background | --status]",
		Short: "Fetch the newer signed Sonic image by delta, verified, and apply it",
		Long: `Looks for a release newer than the running Sonic (/etc/sonic-release, or
--current) with a sonic-iso image of this architecture: the uDOS repository's
GitHub Releases (conditional requests), or --from SOURCE as for 'udos-lib core'
(OWNER/NAME, an http(s) URL prefix, a folder). The release manifest, the
image's block index and the image must verify against the release key
(--keyring or UDOS_KEYRING). The image is fetched by delta: the blocks the
local image (the boot medium, or --image FILE) already holds are copied, only
the others are downloaded with HTTP Range requests; an interrupted download
resumes. The verified image lands in --output (default the current folder).

On an installed Sonic (booted from a disk slot) its kernel and initramfs then
go into the inactive A/B slot, which is armed for one trial boot: reboot
(--reboot does) and the runtime keeps the new slot once it is ready; a trial
that does not reach ready falls back to the running slot by itself. On a live
medium, --write DEVICE writes the image to a USB stick, refusing the device
Sonic booted from unless --yes.

--background runs the update in its own session, so a large download goes
on without this terminal: its progress and outcome are kept beside the image
in --output, and --status (with the same --output) tells them. See
docs/SONIC-STANDALONE.md.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.status:
				return showJob(f, o)
			case os.Getenv(jobEnv) != "":
				return runJob(f, o, os.Getenv(jobEnv))
			case o.background:
				return background(f, o, os.Args[1:])
			}
			return runUpdate(f, o)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&o.check, "check", false, "only say whether a newer image is offered")
	fl.StringVar(&o.to, "to", "", "update to this VERSION (newer than the running one) instead of the newest")
	fl.StringVar(&o.from, "from", "", "release SOURCE: OWNER/NAME, an http(s) URL prefix or a folder (default "+coreinst.DefaultRepository+")")
	fl.StringVar(&o.write, "write", "", "write the verified image to DEVICE (a USB stick)")
	fl.BoolVar(&o.yes, "yes", false, "with --write: allow writing to the device Sonic booted from")
	fl.StringVar(&o.current, "current", "", "the running version (default: read from "+update.ReleaseFile+")")
	fl.StringArrayVar(&o.images, "image", nil, "local image to take unchanged blocks from, and to count as the boot medium (default: the boot medium found)")
	fl.StringVar(&o.output, "output", ".", "folder for the new image")
	fl.StringVar(&o.arch, "arch", goruntime.GOARCH, "architecture of the image wanted")
	fl.BoolVar(&o.reboot, "reboot", false, "on an installed Sonic: reboot into the updated slot once it is armed")
	fl.BoolVar(&o.background, "background", false, "run the update in the background (its status and log go in --output)")
	fl.BoolVar(&o.status, "status", false, "show the background update's progress or outcome in --output")
	c.MarkFlagsMutuallyExclusive("background", "status")
	return c
}

func runUpdate(f *factory.Factory, o *updateOpts) error {
	ctx := f.Ctx
	if o.yes && o.write == "" {
		return cmdutil.Usagef("sonic update: --yes only goes with --write DEVICE")
	}
	if o.check && o.write != "" {
		return cmdutil.Usagef("sonic update: --check only checks; drop --write or --check")
	}
	installed, err := installedSlot()
	if err != nil {
		return err
	}
	if o.reboot && (installed == nil || o.write != "" || o.check) {
		return cmdutil.Usagef("sonic update: --reboot only goes with updating an installed Sonic's slot (not --check, --write or a live medium)")
	}
	cur := o.current
	if cur == "" {
		v, err := update.CurrentVersion(update.ReleaseFile)
		if err != nil {
			return err
		}
		cur = v
	}
	cl, err := f.Client()
	if err != nil {
		return err
	}
	if cl.Trust.Keyring == nil {
		return fmt.Errorf("sonic update: no keyring: pass --keyring FILE (or set UDOS_KEYRING) with the uDOS release key")
	}
	gh := func() (*ghrelease.Client, error) {
		// Conditional requests: a check that finds nothing new costs 304s.
		var etags ghrelease.ETagStore
		if dir, err := os.UserCacheDir(); err == nil {
			etags = ghrelease.DirETagStore{Dir: filepath.Join(dir, "udos-lib", "github-etags")}
		}
		return f.GitHub(etags)
	}
	src, err := coreinst.ParseSource(o.from, cl.Fetcher, gh)
	if err != nil {
		return err
	}
	var rep updateReport
	in := &coreinst.Installer{Keyring: cl.Trust.Keyring, Fetcher: cl.Fetcher, Now: f.Now}
	images := o.images
	var disk *slots.Disk
	if installed != nil && o.write == "" {
		var dev string
		if disk, dev, err = slots.Find(diskDevices(), installed.ESP); err != nil {
			return fmt.Errorf("sonic update: this Sonic runs from slot %s, but %w", installed.Slot, err)
		}
		defer disk.Close()
		st, err := disk.State()
		if err != nil {
			return fmt.Errorf("sonic update: %s: %w", dev, err)
		}
		if _, err := slots.Arm(st, installed.Slot); err != nil && !o.check {
			return fmt.Errorf("sonic update: %s: %w", dev, err)
		}
		rep.Slot = &slotReport{Disk: dev, Running: installed.Slot, State: st}
		if len(images) == 0 {
			// The running slot's file system holds this image's kernel
			// and initramfs: the blocks a new release shares with it.
			images = []string{slots.PartitionPath(dev, disk.Slot(installed.Slot).Index)}
		}
	}
	if len(images) == 0 {
		images = bootMedia(cur)
	}
	u := &update.Updater{Installer: in, Ranger: cl.Fetcher, Arch: o.arch, Current: cur, Log: f.IO.ErrOut}
	offer, err := u.Check(ctx, src, o.to)
	if err != nil {
		return err
	}
	rep.Offer = offer
	if !offer.Available {
		fmt.Fprintf(f.IO.ErrOut, "Sonic %s is the newest release at %s.\n", cur, offer.Source)
		return report(f, rep)
	}
	fmt.Fprintf(f.IO.ErrOut, "Sonic %s is offered (running %s): %s, %d bytes.\n", offer.Version, cur, offer.ISO, offer.Size)
	if o.check {
		return report(f, rep)
	}
	bar := f.IO.NewProgress(offer.ISO, offer.Size)
	var last int64
	if offer.Size > largeImage && f.IO.IsStderrTTY() && !o.background && os.Getenv(jobEnv) == "" {
		fmt.Fprintf(f.IO.ErrOut, "A large download: --background lets it go on without this terminal.\n")
	}
	u.Progress = func(done, total int64) {
		if o.progress != nil {
			o.progress(offer.Version, done, total)
		}
		if done < last {
			bar.Reset()
			last = 0
		}
		bar.Add(done - last)
		last = done
	}
	res, err := u.Download(ctx, offer, o.output, images)
	bar.Done()
	if err != nil {
		return err
	}
	rep.Download = res
	st := res.Stats
	how := fmt.Sprintf("%d bytes downloaded in %d requests, %d taken from the local image", st.FetchedBytes, st.Requests, st.LocalBytes)
	if st.Full {
		how = fmt.Sprintf("%d bytes downloaded in full (the server ignores Range requests)", st.FetchedBytes)
	}
	fmt.Fprintf(f.IO.ErrOut, "Verified %s (sha256, OpenPGP signature): %s.\n", res.Path, how)
	if disk != nil {
		return applySlot(f, o, disk, installed.Slot, res.Path, offer.Version, cur, rep)
	}
	if o.write != "" {
		wbar := f.IO.NewProgress("writing "+o.write, offer.Size)
		err := update.Write(ctx, res.Path, o.write, images, o.yes, wbar.Add)
		wbar.Done()
		if err != nil {
			return err
		}
		rep.Written = o.write
		fmt.Fprintf(f.IO.ErrOut, "Wrote and read back %s on %s: boot from it to run Sonic %s.\n", filepath.Base(res.Path), o.write, offer.Version)
	} else {
		fmt.Fprintf(f.IO.ErrOut, "Write it to a USB stick with: udos-lib sonic update --write DEVICE (or any image writer).\n")
	}
	return report(f, rep)
}

// applySlot puts the verified image's kernel and initramfs into the
// inactive slot and arms it for a trial boot.
func applySlot(f *factory.Factory, o *updateOpts, disk *slots.Disk, running, image, version, cur string, rep updateReport) error {
	medium, err := runtime.FindMedium([]string{image}, version)
	if err != nil {
		return fmt.Errorf("sonic update: reading the verified image: %w", err)
	}
	defer medium.Close()
	var files [2]fatimg.File
	for i, p := range []string{iso.KernelPath, iso.InitrdPath} {
		if files[i], err = runtime.SourceFile(medium.FS, p); err != nil {
			return fmt.Errorf("sonic update: the verified image %s lacks %s: %w", image, p, err)
		}
	}
	cmdline, err := disk.Cmdline(running)
	if err != nil {
		return fmt.Errorf("sonic update: the running slot's command line: %w", err)
	}
	target, err := disk.Update(f.Ctx, running, slots.Payload{Kernel: files[0], Initrd: files[1], Cmdline: cmdline, Version: version})
	if err != nil {
		return fmt.Errorf("sonic update: %w (the running slot %s is untouched)", err, running)
	}
	rep.Slot.Updated = target
	if rep.Slot.State, err = disk.State(); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "Slot %s holds Sonic %s, armed for one trial boot. Reboot to start it%s; once it is ready it is kept, and if it does not get there the next boot returns to slot %s (Sonic %s) by itself.\n",
		target, version, map[bool]string{true: " (rebooting now)", false: " (or pass --reboot)"}[o.reboot], running, cur)
	if err := report(f, rep); err != nil {
		return err
	}
	if o.reboot {
		return reboot()
	}
	return nil
}

// installedSlot is the slot an installed Sonic runs from, nil on a live
// medium (or anywhere else).
func installedSlot() (*runtime.Config, error) {
	b, err := os.ReadFile(procCmdline)
	if err != nil {
		return nil, nil
	}
	cfg, err := runtime.ParseCmdline(string(b))
	if err != nil {
		return nil, fmt.Errorf("sonic update: the kernel command line (%s): %w", procCmdline, err)
	}
	if cfg.Slot == "" {
		return nil, nil
	}
	return &cfg, nil
}

// diskDevices are the whole disks an install may be on.
func diskDevices() []string {
	var devs []string
	for _, pat := range []string{"/dev/sd?", "/dev/vd?", "/dev/nvme?n?", "/dev/mmcblk?", "/dev/hd?"} {
		m, _ := filepath.Glob(pat)
		devs = append(devs, m...)
	}
	return devs
}

// report prints the result: the document with --json, else the new
// image's path (data on stdout).
func report(f *factory.Factory, rep updateReport) error {
	if f.Global.JSON {
		return cmdutil.WriteJSON(f.IO.Out, rep)
	}
	switch {
	case rep.Slot != nil && rep.Slot.Updated != "":
		fmt.Fprintln(f.IO.Out, rep.Slot.Updated)
	case rep.Download != nil:
		fmt.Fprintln(f.IO.Out, rep.Download.Path)
	case rep.Available:
		fmt.Fprintln(f.IO.Out, rep.Version)
	}
	return nil
}

// bootMedia finds the device holding the running Sonic ISO (CD or USB
// stick), which is both the source of unchanged blocks and the device
// --write must not overwrite.
func bootMedia(version string) []string {
	var devs []string
	for _, pat := range []string{"/dev/sr*", "/dev/sd?", "/dev/vd?", "/dev/nvme?n?", "/dev/mmcblk?"} {
		m, _ := filepath.Glob(pat)
		devs = append(devs, m...)
	}
	m, err := runtime.FindMedium(devs, version)
	if err != nil {
		return nil
	}
	m.Close()
	return []string{m.Device}
}
