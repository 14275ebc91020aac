// Package initramfs builds the Sonic initramfs: gzip-compressed newc cpio
// archives (independent members, for delta updates) written
// deterministically (sorted entries, fixed inode numbers,
// owners and times), merged from a base root file system tarball, busybox,
// the sonic-runtime init, the uDOS core tarball under /opt/udos, extra static
// binaries and the kernel modules the runtime loads at boot.
package initramfs

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// newc mode bits.
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
	modeBlock   = 0o060000
)

// CPIOWriter writes a newc ("070701") archive. The kernel's initramfs
// unpacker reads this format; every header field that could vary between
// builds is fixed: inode numbers count up from 1, uid/gid are 0 and all
// times are the one given.
type CPIOWriter struct {
	w      io.Writer
	mtime  int64
	ino    int
	offset int64
	closed bool
}

// NewCPIOWriter starts an archive on w.
func NewCPIOWriter(w io.Writer, mtime time.Time) *CPIOWriter {
	return &CPIOWriter{w: w, mtime: mtime.Unix()}
}

func (c *CPIOWriter) header(name string, mode uint32, nlink int, size int64, rdevMajor, rdevMinor uint32) error {
	if c.closed {
		return fmt.Errorf("cpio archive already closed")
	}
	if size > 0xFFFFFFFF {
		return fmt.Errorf("cpio entry %q: %d bytes exceed the newc limit", name, size)
	}
	c.ino++
	h := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, uint32(c.mtime), uint32(size), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	if err := c.write([]byte(h + name + "\x00")); err != nil {
		return err
	}
	return c.pad()
}

func (c *CPIOWriter) write(b []byte) error {
	n, err := c.w.Write(b)
	c.offset += int64(n)
	if err != nil {
		return fmt.Errorf("writing cpio archive: %w", err)
	}
	return nil
}

func (c *CPIOWriter) pad() error {
	if r := c.offset % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}

func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\x00") {
		return fmt.Errorf("cpio name %q must be relative and non-empty", name)
	}
	for _, p := range strings.Split(name, "/") {
		if p == ".." || p == "" {
			return fmt.Errorf("cpio name %q is not clean", name)
		}
	}
	return nil
}

// Dir adds a directory.
func (c *CPIOWriter) Dir(name string, perm uint32) error {
	if err := checkName(name); err != nil {
		return err
	}
	return c.header(name, modeDir|perm&0o7777, 2, 0, 0, 0)
}

// File adds a regular file of size bytes read from r.
func (c *CPIOWriter) File(name string, perm uint32, size int64, r io.Reader) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := c.header(name, modeFile|perm&0o7777, 1, size, 0, 0); err != nil {
		return err
	}
	n, err := io.Copy(c.w, io.LimitReader(r, size))
	c.offset += n
	if err != nil {
		return fmt.Errorf("writing %q into the cpio archive: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("writing %q into the cpio archive: got %d bytes, want %d", name, n, size)
	}
	return c.pad()
}

// Symlink adds a symbolic link.
func (c *CPIOWriter) Symlink(name, target string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := c.header(name, modeSymlink|0o777, 1, int64(len(target)), 0, 0); err != nil {
		return err
	}
	if err := c.write([]byte(target)); err != nil {
		return err
	}
	return c.pad()
}

// Device adds a character (char true) or block device node.
func (c *CPIOWriter) Device(name string, perm uint32, char bool, major, minor uint32) error {
	if err := checkName(name); err != nil {
		return err
	}
	mode := uint32(modeBlock)
	if char {
		mode = modeChar
	}
	return c.header(name, mode|perm&0o7777, 1, 0, major, minor)
}

// Close writes the trailer and pads the archive to 512 bytes, as cpio(1) does.
func (c *CPIOWriter) Close() error {
	if c.closed {
		return nil
	}
	c.ino = -1 // the trailer has inode 0
	if err := c.header("TRAILER!!!", 0, 1, 0, 0, 0); err != nil {
		return err
	}
	c.closed = true
	if r := c.offset % 512; r != 0 {
		return c.write(make([]byte, 512-r))
	}
	return nil
}
