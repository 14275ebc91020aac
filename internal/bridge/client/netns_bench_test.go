package client_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fredbook/udos-dist/internal/bridge/client"
	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/bridge/nettest"
	"github.com/fredbook/udos-dist/internal/bridge/server"
	"github.com/fredbook/udos-dist/internal/bridge/statesync"
)

// The test binary doubles as a bridge host or client inside a namespace
// (BRIDGE_BENCH_HELPER=serve DIR | rtt DIR ADDR N).
func TestMain(m *testing.M) {
	switch os.Getenv("BRIDGE_BENCH_HELPER") {
	case "serve":
		os.Exit(helperServe(os.Getenv("DIR")))
	case "rtt":
		n, _ := strconv.Atoi(os.Getenv("N"))
		os.Exit(helperRTT(os.Getenv("DIR"), os.Getenv("ADDR"), n))
	case "push":
		os.Exit(helperPush(os.Getenv("DIR"), os.Getenv("ADDR"), os.Getenv("SRC")))
	}
	os.Exit(m.Run())
}

func helperServe(dir string) int {
	host, err := hostauth.LoadOrCreateKey(filepath.Join(dir, "host"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmds, _ := server.ResolveAllow(dir, []string{"true"}, exec.LookPath)
	// The store is re-read from disk on every sync: the benchmark empties
	// it between first syncs.
	store := &statesync.Store{Dir: filepath.Join(dir, "store"), Keep: 2, Log: func(string) {}, Now: time.Now}
	srv, _ := server.New(server.Config{HostKey: host, Authorized: hostauth.AuthorizedKeys{File: filepath.Join(dir, "authorized_keys")}.Load,
		Commands: cmds, Dir: dir, Env: []string{"PATH=" + os.Getenv("PATH")},
		Subsystems: map[string]server.SubsystemHandler{server.SyncSubsystem: func(ctx context.Context, ch ssh.Channel, c server.Client) error {
			_, err := store.Serve(ctx, ch, c.Fingerprint)
			return err
		}}})
	ln, err := net.Listen("tcp", ":7622")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	_ = srv.Serve(ctx, ln)
	return 0
}

func helperRTT(dir, addr string, n int) int {
	key, _ := hostauth.LoadOrCreateKey(filepath.Join(dir, "client"))
	host, _ := hostauth.LoadOrCreateKey(filepath.Join(dir, "host"))
	c, err := client.Dial(context.Background(), client.Config{Host: addr, Port: 7622, Key: key,
		HostKey: func(k ssh.PublicKey) error { return fixedKey(host.PublicKey(), k) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	d := make([]time.Duration, n)
	for i := range d {
		t0 := time.Now()
		if err := c.Run(context.Background(), []string{"true"}, nil, io.Discard, io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		d[i] = time.Since(t0)
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	json.NewEncoder(os.Stdout).Encode(map[string]float64{"p50": float64(d[n/2].Microseconds()) / 1000, "p99": float64(d[n*99/100].Microseconds()) / 1000})
	return 0
}

func fixedKey(want, got ssh.PublicKey) error {
	if !bytes.Equal(got.Marshal(), want.Marshal()) {
		return errors.New("not the bench host's key")
	}
	return nil
}

// startHelperServe runs the bench host (helperServe on DIR) in h's
// namespace until the benchmark ends.
func startHelperServe(b *testing.B, h *nettest.Host, dir string) {
	b.Helper()
	srv := h.Command(context.Background(), os.Args[0], "-test.run=^$")
	srv.Env = append(os.Environ(), "BRIDGE_BENCH_HELPER=serve", "DIR="+dir)
	out, _ := srv.StdoutPipe()
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); !strings.HasPrefix(line, "ready") {
		b.Fatalf("server: %q", line)
	}
}

// BenchmarkRoundTripNetns: the bridge's command round trip between two
// network namespaces joined by veth pairs and a bridge.
func BenchmarkRoundTripNetns(b *testing.B) {
	lab := nettest.New(b, 2)
	dir := b.TempDir()
	k, _ := hostauth.LoadOrCreateKey(filepath.Join(dir, "client"))
	hostauth.AuthorizedKeys{File: filepath.Join(dir, "authorized_keys")}.Add(k.PublicKey(), "bench")
	startHelperServe(b, lab.Hosts[0], dir)
	cl := lab.Hosts[1].Command(context.Background(), os.Args[0], "-test.run=^$")
	cl.Env = append(os.Environ(), "BRIDGE_BENCH_HELPER=rtt", "DIR="+dir, "ADDR="+lab.Hosts[0].IP, "N="+strconv.Itoa(b.N))
	b.ResetTimer()
	res, err := cl.Output()
	b.StopTimer()
	var r map[string]float64
	if err != nil || json.Unmarshal(res, &r) != nil {
		b.Fatalf("client: %v %s", err, res)
	}
	b.ReportMetric(r["p50"], "p50-ms")
	b.ReportMetric(r["p99"], "p99-ms")
}
