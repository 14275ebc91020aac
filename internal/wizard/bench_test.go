package wizard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/compose"
	"github.com/fredbook/udos-dist/internal/dockertest"
	"github.com/fredbook/udos-dist/internal/retry"
	"github.com/fredbook/udos-dist/internal/testenv"
)

// benchCompose is three services, each waiting for the one before to be
// healthy: what docker-compose 1.29 and udos-lib both read (no name:, which
// 1.29 does not know; the project is named by its folder).
func benchCompose(image string) string {
	svc := func(name, dep string) string {
		s := "  " + name + ":\n    image: " + image + "\n    command: [\"serve\"]\n    user: \"10001:10001\"\n    read_only: true\n" +
			"    cap_drop: [ALL]\n    security_opt: [\"no-new-privileges:true\"]\n    mem_limit: 64m\n    pids_limit: 64\n    restart: \"no\"\n" +
			"    healthcheck:\n      test: [\"CMD\", \"/testsvc\", \"healthcheck\"]\n      interval: 250ms\n      timeout: 1s\n      retries: 2\n"
		if dep != "" {
			s += "    depends_on:\n      " + dep + ": {condition: service_healthy}\n"
		}
		return s
	}
	return "version: \"2.4\"\nservices:\n" + svc("db", "") + svc("api", "db") + svc("web", "api")
}

// BenchmarkUpToHealthy times `up` until every service is healthy, for
// udos-lib's manager and for Debian's docker-compose 1.29 (`up -d`, which
// itself waits for service_healthy dependencies, then polling the engine
// every 100 ms until the last service is healthy, as its users do), on the
// same compose file, alternating, each followed by a down that is not
// timed. It reports ns/op for the manager and the ratio compose/udos-lib.
//
//	go test -run '^$' -bench BenchmarkUpToHealthy -benchtime 10x ./internal/wizard
func BenchmarkUpToHealthy(b *testing.B) {
	compose1 := testenv.Tool(b, "docker-compose")
	cli := dockertest.Engine(b)
	label := dockertest.Label(b, cli)
	image, _ := dockertest.TestsvcImage(b, label)
	dockertest.Pull(b, cli, image)
	dir := filepath.Join(b.TempDir(), "wzbench"+label[len(label)-8:])
	os.MkdirAll(dir, 0o755)
	file := filepath.Join(dir, "docker-compose.yml")
	os.WriteFile(file, []byte(benchCompose(image)), 0o644)
	ctx := context.Background()
	p, err := compose.Load(ctx, file, nil)
	if err != nil {
		b.Fatal(err)
	}
	m := &Manager{Engine: cli, Project: p, Poll: 100 * time.Millisecond, ExtraLabels: map[string]string{dockertest.LabelKey: label}}
	project := filepath.Base(dir)
	dc := func(args ...string) {
		cmd := exec.Command(compose1, append([]string{"-p", project, "-f", file}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("docker-compose %v: %v\n%s", args, err, out)
		}
	}
	b.Cleanup(func() { dc("down", "-v", "-t", "1") })
	var ours, theirs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := m.Up(ctx, UpOptions{WaitTimeout: time.Minute}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		b.StopTimer()
		if _, err := m.Down(ctx, DownOptions{Timeout: time.Second}); err != nil {
			b.Fatal(err)
		}

		start = time.Now()
		dc("up", "-d")
		waitComposeHealthy(b, cli, project, 3)
		theirs += time.Since(start)
		dc("down", "-t", "1")
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "udos-ms/up")
	b.ReportMetric(float64(theirs.Milliseconds())/float64(b.N), "compose-ms/up")
	b.ReportMetric(float64(theirs)/float64(ours), "compose/udos")
}

func waitComposeHealthy(b *testing.B, cli *client.Client, project string, n int) {
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		cs, err := cli.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.Add("label", LabelProject+"="+project)})
		if err != nil {
			b.Fatal(err)
		}
		healthy := 0
		for _, c := range cs.Items {
			if strings.Contains(c.Status, "(healthy)") {
				healthy++
			}
		}
		if healthy == n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal(fmt.Sprintf("docker-compose's %s not healthy within a minute", project))
}

// BenchmarkAvailabilityUnderFaults runs watch while a fault injector kills
// (SIGKILL from the engine) or hangs the service at random moments
// (exponentially distributed, mean UDOS_WIZARD_FAULT_EVERY, default 60s)
// for UDOS_WIZARD_SOAK (default 1m; BENCHMARKS.md's figure is 10m), and
// probes the health endpoint from the host every 100 ms. It reports the
// fraction of probes answered healthy and the recovery time (fault to the
// next healthy answer) at p50 and p99. watch runs with --interval 250ms
// --backoff 250ms; the service's health check probes every 250 ms.
//
//	UDOS_WIZARD_SOAK=10m go test -run '^$' -bench BenchmarkAvailabilityUnderFaults -benchtime 1x -timeout 30m ./internal/wizard
func BenchmarkAvailabilityUnderFaults(b *testing.B) {
	soak := envDuration("UDOS_WIZARD_SOAK", time.Minute)
	every := envDuration("UDOS_WIZARD_FAULT_EVERY", time.Minute)
	cli := dockertest.Engine(b)
	label := dockertest.Label(b, cli)
	image, _ := dockertest.TestsvcImage(b, label)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := b.TempDir()
	file := filepath.Join(dir, "docker-compose.yml")
	src := strings.Replace(benchCompose(image), "version: \"2.4\"\nservices:\n", "name: wzsoak"+label[len(label)-8:]+"\nservices:\n", 1)
	src = src[:strings.Index(src, "  api:")] // one service: db
	src = strings.Replace(src, "    restart: \"no\"\n", fmt.Sprintf("    restart: \"no\"\n    ports: [\"127.0.0.1:%d:8080\"]\n", port), 1)
	os.WriteFile(file, []byte(src), 0o644)
	ctx := context.Background()
	p, err := compose.Load(ctx, file, nil)
	if err != nil {
		b.Fatal(err)
	}
	m := &Manager{Engine: cli, Project: p, Poll: 100 * time.Millisecond, ExtraLabels: map[string]string{dockertest.LabelKey: label}}
	if err := m.Up(ctx, UpOptions{WaitTimeout: time.Minute}); err != nil {
		b.Fatal(err)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- m.Watch(wctx, WatchOptions{Interval: 250 * time.Millisecond, Backoff: retry.Backoff{Base: 250 * time.Millisecond},
			MaxRestarts: 1000, Window: time.Minute, StopTimeout: time.Second}, nil)
	}()

	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	hc := &http.Client{Timeout: 500 * time.Millisecond}
	var mu sync.Mutex
	var probes, healthy int
	var faultAt time.Time
	var recoveries []time.Duration
	probe := func() {
		started := time.Now()
		resp, err := hc.Get(url + "/api/health")
		ok := err == nil && resp.StatusCode == 200
		if resp != nil {
			resp.Body.Close()
		}
		mu.Lock()
		probes++
		if ok {
			healthy++
			// Only a probe sent after the fault tells of the recovery.
			if !faultAt.IsZero() && started.After(faultAt) {
				recoveries = append(recoveries, time.Since(faultAt))
				faultAt = time.Time{}
			}
		}
		mu.Unlock()
	}
	b.ResetTimer()
	end := time.Now().Add(soak)
	nextFault := time.Now().Add(time.Duration(rand.ExpFloat64() * float64(every)))
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var kills, hangs int
	for now := range tick.C {
		if now.After(end) {
			break
		}
		go probe()
		mu.Lock()
		idle := faultAt.IsZero()
		mu.Unlock()
		if now.After(nextFault) && idle {
			o, err := m.observe(ctx, "db")
			if err == nil && o.ready(true) {
				mu.Lock()
				faultAt = time.Now()
				mu.Unlock()
				if rand.IntN(2) == 0 {
					kills++
					cli.ContainerKill(ctx, o.ID, client.ContainerKillOptions{Signal: "SIGKILL"})
				} else {
					hangs++
					if resp, err := hc.Post(url+"/control/hang", "text/plain", nil); err == nil {
						resp.Body.Close()
					}
				}
			}
			nextFault = now.Add(time.Duration(rand.ExpFloat64() * float64(every)))
		}
	}
	b.StopTimer()
	stopWatch()
	<-watchDone
	m.Down(ctx, DownOptions{Timeout: time.Second})
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(recoveries)
	pct := func(q float64) float64 {
		if len(recoveries) == 0 {
			return 0
		}
		return recoveries[min(len(recoveries)-1, int(q*float64(len(recoveries))))].Seconds()
	}
	b.ReportMetric(100*float64(healthy)/float64(max(probes, 1)), "%healthy")
	b.ReportMetric(pct(0.5), "p50-recovery-s")
	b.ReportMetric(pct(0.99), "p99-recovery-s")
	b.ReportMetric(float64(kills), "kills")
	b.ReportMetric(float64(hangs), "hangs")
	b.Logf("%d probes, %d healthy; %d kills, %d hangs; recoveries %v", probes, healthy, kills, hangs, recoveries)
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}
