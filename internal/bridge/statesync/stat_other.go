//go:build !linux && !darwin

package statesync

import "io/fs"

// Without an inode the cache is never trusted (Ino 0): every file is read.
func statKey(fi fs.FileInfo) CacheEntry { return CacheEntry{Mtime: fi.ModTime().UnixNano()} }
