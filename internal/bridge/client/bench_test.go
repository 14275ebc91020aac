package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/client"
	"github.com/fredbook/udos-dist/internal/bridge/server"
	"github.com/fredbook/udos-dist/internal/bridge/statesync"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// reportLatency runs one round trip b.N times and reports p50/p99.
func reportLatency(b *testing.B, rt func() error) {
	b.Helper()
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := rt(); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkRoundTrip: one command (`true`) over a kept-alive connection on
// loopback: our client (session + host-side checks + exec), a bare
// x/crypto/ssh exec on the same server, and OpenSSH's client multiplexed
// through a ControlMaster on the same server.
func BenchmarkRoundTrip(b *testing.B) {
	fx := newFixtureWith(b, 1, []string{"true"}, nil)
	fx.pin(b)
	b.Run("bridge", func(b *testing.B) {
		c := fx.dial(b, 0)
		reportLatency(b, func() error { return c.Run(context.Background(), []string{"true"}, nil, io.Discard, io.Discard) })
	})
	b.Run("xcrypto-exec", func(b *testing.B) {
		c, err := ssh.Dial("tcp", fx.addr.String(), &ssh.ClientConfig{User: "u", Auth: []ssh.AuthMethod{ssh.PublicKeys(fx.clients[0])},
			HostKeyCallback: ssh.FixedHostKey(fx.host.PublicKey())})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		reportLatency(b, func() error {
			s, err := c.NewSession()
			if err != nil {
				return err
			}
			defer s.Close()
			return s.Run("true")
		})
	})
	b.Run("openssh-controlmaster", func(b *testing.B) {
		sshBin := testenv.Tool(b, "ssh")
		dir, err := os.MkdirTemp("/tmp", "ubcm")
		if err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
		sock := filepath.Join(dir, "cm")
		args := func(extra ...string) []string {
			return append(append(sshOptions(fx.keyFile[0], fx.kh.File, fx.addr.Port), "-o", "ControlPath="+sock), extra...)
		}
		master := exec.Command(sshBin, args("-o", "ControlMaster=yes", "-N", "udos@127.0.0.1")...)
		if err := master.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { master.Process.Kill(); master.Wait() }()
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(sock); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		reportLatency(b, func() error {
			return exec.Command(sshBin, args("-o", "ControlMaster=no", "udos@127.0.0.1", "true")...).Run()
		})
	})
}

// makeState makes the 100 MB state folder of the sync benchmarks (100 files
// of 1 MiB, random so nothing compresses or deduplicates); change rewrites
// one file of it (1 %).
func makeState(b *testing.B) (src string, change func()) {
	b.Helper()
	src = b.TempDir()
	write := func(name string) {
		buf := make([]byte, 1<<20)
		rand.Read(buf)
		if err := os.WriteFile(filepath.Join(src, name), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		write(fmt.Sprintf("f%03d.bin", i))
	}
	return src, func() { write("f050.bin") }
}

// sshOptions are the OpenSSH client's options of the benchmarks: key only,
// no prompt, the host pinned in knownHosts.
func sshOptions(key, knownHosts string, port int) []string {
	return []string{"-F", "none", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + knownHosts, "-o", "StrictHostKeyChecking=yes", "-p", strconv.Itoa(port)}
}

// syncRuns runs the two sub-benchmarks of one way to sync the state
// folder: NAME-first, each sync after reset emptied the destination, and
// NAME-1pct, each after change rewrote 1 % of the source.
func syncRuns(b *testing.B, name string, reset, change func(), sync func(b *testing.B)) {
	b.Run(name+"-first", func(b *testing.B) {
		b.SetBytes(100 << 20)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			reset()
			b.StartTimer()
			sync(b)
		}
	})
	b.Run(name+"-1pct", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			change()
			b.StartTimer()
			sync(b)
		}
	})
}

// BenchmarkSync100MB: a 100 MB state folder (100 files of 1 MB, random),
// first sync and then with 1 % changed (one file rewritten), against rsync
// run over OpenSSH's client to the same server (rsync is an allowed command
// there, so the transport is the same).
func BenchmarkSync100MB(b *testing.B) {
	store := &statesync.Store{Dir: b.TempDir(), Keep: 2, Log: func(string) {}, Now: time.Now}
	subs := map[string]server.SubsystemHandler{server.SyncSubsystem: func(ctx context.Context, ch ssh.Channel, c server.Client) error {
		_, err := store.Serve(ctx, ch, c.Fingerprint)
		return err
	}}
	fx := newFixtureWith(b, 1, []string{"rsync"}, subs)
	fx.pin(b)
	src, change := makeState(b)
	c := fx.dial(b, 0)
	base := 0
	cache := statesync.ScanCache{File: filepath.Join(b.TempDir(), "cache.json")}
	push := func(b *testing.B) {
		m, err := cache.Scan(src)
		if err != nil {
			b.Fatal(err)
		}
		st, err := c.Subsystem(server.SyncSubsystem)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		r, err := statesync.Push(context.Background(), st, src, m, base, nil)
		if err != nil {
			b.Fatal(err)
		}
		base = r.Version
	}
	syncRuns(b, "bridge", func() { os.RemoveAll(store.Dir); base = 0 }, change, push)
	rsyncBin := testenv.Tool(b, "rsync")
	sshCmd := "ssh " + strings.Join(sshOptions(fx.keyFile[0], fx.kh.File, fx.addr.Port), " ")
	dst := filepath.Join(b.TempDir(), "dst")
	rsync := func(b *testing.B) {
		var out bytes.Buffer
		cmd := exec.Command(rsyncBin, "-a", "-e", sshCmd, src+"/", "udos@127.0.0.1:"+dst+"/")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.Fatalf("rsync: %v %s", err, out.String())
		}
	}
	syncRuns(b, "rsync-ssh", func() { os.RemoveAll(dst) }, change, rsync)
}

var _ = client.ErrLinkLost
