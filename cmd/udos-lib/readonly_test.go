package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/treetest"
)

// TestReadOnlyCommandsWriteNothing: search, info, list and check-updates
// never write into the root, over http (with and without a cache) or a
// folder registry; search in an empty folder creates nothing there.
func TestReadOnlyCommandsWriteNothing(t *testing.T) {
	t.Parallel()
	reg := t.TempDir()
	mustNoErr(t, buildRegistry(reg, regOptions{}))
	srv := newFaultServer(reg)
	defer srv.srv.Close()

	empty := t.TempDir()
	for _, r := range []string{reg, srv.srv.URL} {
		cmd := udosLib(empty, r, nil, "search", "grid")
		mustRun(t, cmd)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Fatalf("search in an empty folder left %d entries there", len(ents))
	}

	root := newRoot(t)
	mustRun(t, udosLib(root, srv.srv.URL, nil, "install", "grid-math@1.1.0"))
	readOnly := [][]string{{"search", "grid"}, {"info", "grid-math"}, {"list"}, {"list", "--available"}, {"check-updates"}, {"--json", "list"}}
	for _, r := range []string{srv.srv.URL, reg} {
		// With the cache the install left, and without any.
		for _, dropCache := range []bool{false, true} {
			if dropCache {
				mustNoErr(t, os.RemoveAll(filepath.Join(root, "library", ".udos-lib", "cache")))
			}
			before := treetest.Snapshot(t, root)
			for _, args := range readOnly {
				mustRun(t, udosLib(root, r, nil, args...))
				treetest.Same(t, strings.Join(args, " "), before, treetest.Snapshot(t, root))
			}
		}
	}
}

// TestInterruptDuringDownload: Ctrl-C while a package download stalls ends
// udos-lib at once with exit 130 and "interrupted"; nothing is installed and
// nothing of the download is left.
func TestInterruptDuringDownload(t *testing.T) {
	t.Parallel()
	reg := t.TempDir()
	mustNoErr(t, buildRegistry(reg, regOptions{}))
	srv := newFaultServer(reg)
	defer srv.srv.Close()
	srv.mu.Lock()
	srv.stall, srv.only, srv.stallFor = 1, "themes-retro", 30*time.Second
	srv.mu.Unlock()
	root := newRoot(t)
	cmd := udosLib(root, srv.srv.URL, []string{"UDOS_LIB_HTTP_TIMEOUT=60s", "UDOS_LIB_FORCE_TTY=0"}, "install", "themes-retro")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	mustNoErr(t, cmd.Start())
	// Wait until the server holds the package request.
	deadline := time.Now().Add(30 * time.Second)
	for {
		srv.mu.Lock()
		stalled := srv.stall == 0
		srv.mu.Unlock()
		if stalled {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the download never started:\n%s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	interrupt(t, cmd, cmd.Wait, errOut.String)
	for _, p := range []string{"library/themes-retro", "library/lock.json", "library/.udos-lib/store/lib-themes-retro", "library/.udos-lib/journal.json"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s exists after the interrupted install", p)
		}
	}
}
