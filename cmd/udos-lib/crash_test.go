package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/store"
)

// udosLib runs this test binary as udos-lib on root with the registry reg.
func udosLib(root, reg string, env []string, args ...string) *exec.Cmd {
	all := append([]string{"--root", root, "--registry", reg}, args...)
	cmd := exec.Command(os.Args[0], all...)
	cmd.Env = append(os.Environ(), "UDOS_LIB_EXEC_MAIN=1", "UDOS_LIB_FORCE_TTY=0")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func mustRun(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\nstderr:\n%s", cmd.Args, err, errOut.String())
	}
	return out.String()
}

func newRoot(t *testing.T) string {
	root := t.TempDir()
	mustNoErr(t, os.WriteFile(filepath.Join(root, "version.json"), []byte(`{"version": "1.5.0"}`), 0o644))
	return root
}

// installedState checks that the live tree matches the lock file exactly
// and returns "id@version" of everything installed, sorted.
func installedState(t *testing.T, root string) []string {
	t.Helper()
	p := store.Paths{Root: root}
	if _, err := os.Stat(p.Journal()); err == nil {
		t.Fatalf("a journal is left after a command ran")
	}
	lock, err := p.ReadLock()
	mustNoErr(t, err)
	var out []string
	linked := map[string]bool{}
	for id, e := range lock.Libraries {
		link := filepath.Join(root, filepath.FromSlash(e.InstallPath))
		target, err := os.Readlink(link)
		if err != nil {
			t.Fatalf("%s@%s is in the lock file but %s is not a link: %v", id, e.Version, link, err)
		}
		want, _ := filepath.Rel(filepath.Dir(link), p.StoreDir(id, e.Version))
		if target != want {
			t.Fatalf("%s points at %s, the lock file says %s", link, target, want)
		}
		b, err := os.ReadFile(filepath.Join(link, "manifest.json"))
		if err != nil {
			t.Fatalf("%s@%s: store copy incomplete: %v", id, e.Version, err)
		}
		var m struct{ Version string }
		mustNoErr(t, json.Unmarshal(b, &m))
		if m.Version != e.Version {
			t.Fatalf("%s: the live copy is %s, the lock file says %s", id, m.Version, e.Version)
		}
		linked[link] = true
		out = append(out, id+"@"+e.Version)
	}
	ents, err := os.ReadDir(p.Library())
	mustNoErr(t, err)
	for _, e := range ents {
		full := filepath.Join(p.Library(), e.Name())
		if e.Type()&os.ModeSymlink != 0 && !linked[full] {
			t.Fatalf("%s is linked but not in the lock file", full)
		}
	}
	sort.Strings(out)
	return out
}

// TestKilledInstall kills a real udos-lib process with SIGKILL at every
// named point of an install that changes two libraries and adds a third,
// then checks that the tree is the old state or the new one, that the lock
// file matches it, and that the next command works.
func TestKilledInstall(t *testing.T) {
	t.Parallel()
	reg := t.TempDir()
	mustNoErr(t, buildRegistry(reg, regOptions{}))
	oldState := []string{"lib-grid-math@1.1.0", "lib-pathfinding@1.0.0"}
	newState := []string{"lib-grid-math@1.1.1", "lib-pathfinding@1.1.0", "lib-themes-retro@0.3.0"}
	points := []struct {
		name string
		want []string // state after recovery
	}{
		{"after-download", oldState},
		{"after-extract", oldState},
		{"after-store", oldState},
		{"after-journal", newState},
		{"after-first-switch", newState},
		{"before-lockfile", newState},
		{"after-lockfile", newState},
	}
	for _, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t)
			mustRun(t, udosLib(root, reg, nil, "install", "grid-math@1.1.0", "pathfinding@1.0.0"))
			if got := installedState(t, root); strings.Join(got, " ") != strings.Join(oldState, " ") {
				t.Fatalf("setup: %v", got)
			}
			cmd := udosLib(root, reg, []string{"UDOS_LIB_TEST_PAUSE=" + pt.name}, "install", "grid-math@1.1.1", "pathfinding@1.1.0", "themes-retro")
			killAtPause(t, cmd, pt.name)

			// A read-only command reports an unfinished transaction and
			// leaves it alone.
			_, journalErr := os.Stat(store.Paths{Root: root}.Journal())
			var listErr bytes.Buffer
			list := udosLib(root, reg, nil, "list", "--json")
			list.Stderr = &listErr
			_ = list.Run()
			if _, err := os.Stat(store.Paths{Root: root}.Journal()); (err == nil) != (journalErr == nil) {
				t.Fatalf("list changed the journal (before: %v, after: %v)", journalErr, err)
			}
			if journalErr == nil && !strings.Contains(listErr.String(), "an interrupted transaction is pending") {
				t.Errorf("list did not report the pending transaction:\n%s", listErr.String())
			}
			// The next command that changes the root recovers; the state is
			// exactly old or new.
			var errOut bytes.Buffer
			next := udosLib(root, reg, nil, "sync")
			next.Stderr = &errOut
			if err := next.Run(); err != nil {
				t.Fatalf("sync after the kill: %v\n%s", err, errOut.String())
			}
			got := installedState(t, root)
			if strings.Join(got, " ") != strings.Join(pt.want, " ") {
				t.Fatalf("after a kill at %s: state %v, want %v", pt.name, got, pt.want)
			}
			if strings.Join(pt.want, " ") == strings.Join(newState, " ") && pt.name != "after-lockfile" &&
				!strings.Contains(errOut.String(), "recovery: completed an interrupted install") {
				t.Errorf("recovery was not reported: %s", errOut.String())
			}
			// And the install can be run to completion.
			mustRun(t, udosLib(root, reg, nil, "install", "grid-math@1.1.1", "pathfinding@1.1.0", "themes-retro"))
			if got := installedState(t, root); strings.Join(got, " ") != strings.Join(newState, " ") {
				t.Fatalf("after re-running the install: %v", got)
			}
		})
	}
}

// killAtPause starts cmd, waits until it announces the pause point on
// stderr, and kills it with SIGKILL.
func killAtPause(t *testing.T, cmd *exec.Cmd, point string) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	mustNoErr(t, err)
	mustNoErr(t, cmd.Start())
	paused := make(chan bool, 1)
	var seen strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "test pause at "+point) {
				paused <- true
				io_drain(sc)
				return
			}
		}
		paused <- false
	}()
	select {
	case ok := <-paused:
		if !ok {
			cmd.Wait()
			t.Fatalf("the process ended without pausing at %s:\n%s", point, seen.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no pause at %s within 60s", point)
	}
	mustNoErr(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
}

func io_drain(sc *bufio.Scanner) {
	for sc.Scan() {
	}
}

// TestConcurrentInstalls runs two installs on one root at once: the lock
// serialises them and both end up installed.
func TestConcurrentInstalls(t *testing.T) {
	t.Parallel()
	reg := t.TempDir()
	mustNoErr(t, buildRegistry(reg, regOptions{}))
	root := newRoot(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	outs := make([]bytes.Buffer, 2)
	for i, spec := range []string{"grid-extensions", "themes-retro"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := udosLib(root, reg, nil, "install", spec)
			cmd.Stderr = &outs[i]
			errs[i] = cmd.Run()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("install %d: %v\n%s", i, err, outs[i].String())
		}
	}
	got := installedState(t, root)
	want := "lib-grid-extensions@1.2.3 lib-grid-math@1.1.1 lib-pathfinding@1.1.0 lib-themes-retro@0.3.0"
	if strings.Join(got, " ") != want {
		t.Fatalf("state %v, want %s", got, want)
	}
}

// TestLockWait: a second process that changes the root waits for the first
// with a message and gives up after UDOS_LIB_LOCK_TIMEOUT with a clear
// error; a read-only one does not wait at all.
func TestLockWait(t *testing.T) {
	t.Parallel()
	reg := t.TempDir()
	mustNoErr(t, buildRegistry(reg, regOptions{}))
	root := newRoot(t)
	first := holdLock(t, root, reg)
	for _, ro := range [][]string{{"list"}, {"list", "--available"}, {"search", "grid"}, {"info", "grid-math"}, {"check-updates"}} {
		cmd := udosLib(root, reg, []string{"UDOS_LIB_LOCK_TIMEOUT=20s"}, ro...)
		var out bytes.Buffer
		cmd.Stderr = &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Errorf("%v while another udos-lib holds the lock: %v\n%s", ro, err, out.String())
		}
		if d := time.Since(start); d > 5*time.Second || strings.Contains(out.String(), "waiting for another") {
			t.Errorf("%v waited for the lock (%s):\n%s", ro, d, out.String())
		}
	}
	second := udosLib(root, reg, []string{"UDOS_LIB_LOCK_TIMEOUT=500ms"}, "install", "grid-math")
	var errOut bytes.Buffer
	second.Stderr = &errOut
	err := second.Run()
	if err == nil {
		t.Fatalf("the second process did not wait for the lock")
	}
	for _, want := range []string{
		fmt.Sprintf("waiting for another udos-lib (pid %d)", first.Process.Pid),
		"timed out waiting for another udos-lib process",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
}

// TestInterruptWhileWaitingForLock: Ctrl-C (SIGINT) on a udos-lib that waits
// for another one's lock ends it within a second, with exit code 130 and
// "interrupted", and nothing of its install was done.
func TestInterruptWhileWaitingForLock(t *testing.T) {
	t.Parallel()
	reg := t.TempDir()
	mustNoErr(t, buildRegistry(reg, regOptions{}))
	root := newRoot(t)
	mustRun(t, udosLib(root, reg, nil, "install", "grid-math@1.1.0"))
	before := installedState(t, root)

	first := holdLock(t, root, reg)

	second := udosLib(root, reg, nil, "install", "pathfinding")
	errPipe, err := second.StderrPipe()
	mustNoErr(t, err)
	mustNoErr(t, second.Start())
	var errOut strings.Builder
	waiting := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			errOut.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "waiting for another udos-lib") {
				close(waiting)
			}
		}
	}()
	select {
	case <-waiting:
	case <-time.After(30 * time.Second):
		second.Process.Kill()
		t.Fatalf("the second udos-lib never said it was waiting")
	}
	interrupt(t, second, func() error { <-done; return second.Wait() }, errOut.String)
	// Let the first finish its install; only it changed the tree.
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	if got := installedState(t, root); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Fatalf("state %v after the interrupted wait, want %v", got, before)
	}
	if _, err := os.Stat(filepath.Join(root, "library", ".udos-lib", "store", "lib-pathfinding")); !os.IsNotExist(err) {
		t.Errorf("the interrupted install left something in the store: %v", err)
	}
}

// holdLock starts a udos-lib install on root that pauses (holding the
// root's lock) after its download, and returns once it is there; the
// process is killed when the test ends.
func holdLock(t *testing.T, root, reg string) *exec.Cmd {
	t.Helper()
	first := udosLib(root, reg, []string{"UDOS_LIB_TEST_PAUSE=after-download"}, "install", "themes-retro")
	stderr, err := first.StderrPipe()
	mustNoErr(t, err)
	mustNoErr(t, first.Start())
	t.Cleanup(func() {
		first.Process.Signal(syscall.SIGKILL)
		first.Wait()
	})
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "test pause") {
	}
	go io_drain(sc)
	return first
}

// interrupt sends SIGINT to cmd and checks that udos-lib ends within a
// second with exit code 130 and "udos-lib: interrupted" as the last line of
// its stderr (read after wait returns).
func interrupt(t *testing.T, cmd *exec.Cmd, wait func() error, stderr func() string) {
	t.Helper()
	mustNoErr(t, cmd.Process.Signal(syscall.SIGINT))
	start := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("udos-lib did not end within 5s of SIGINT")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("udos-lib took %s to end after SIGINT, want under a second", d)
	}
	out := stderr()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d (%v), want 130\n%s", code, err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; last != "udos-lib: interrupted" {
		t.Errorf("last line of stderr %q, want \"udos-lib: interrupted\":\n%s", last, out)
	}
	if strings.Contains(out, "context canceled") {
		t.Errorf("stderr shows the Go error text:\n%s", out)
	}
}
