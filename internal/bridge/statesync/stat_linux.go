//go:build linux

package statesync

import (
	"io/fs"
	"syscall"
)

func statKey(fi fs.FileInfo) CacheEntry {
	e := CacheEntry{Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Ino = st.Ino
		e.Ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return e
}
