package wizard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/compose"
	"github.com/fredbook/udos-dist/internal/dockertest"
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
