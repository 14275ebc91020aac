//go:build linux || darwin

package statesync

import (
	"io/fs"
	"syscall"
)

// statKey is what the cache compares to trust a file unread: the inode and
// the change time catch a file replaced or rewritten within one mtime tick.
func statKey(fi fs.FileInfo) CacheEntry {
	e := CacheEntry{Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Ino = st.Ino
		c := ctime(st)
		e.Ctime = c.Nano()
	}
	return e
}
