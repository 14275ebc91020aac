package wizard

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/compose"
	"github.com/fredbook/udos-dist/internal/dockertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dockertest.Cleanup()
	os.Exit(code)
}

// rig is one test's engine, image, project and manager.
type rig struct {
	t      *testing.T
	cli    *client.Client
	label  string
	image  string // by digest
	tag    string
	dir    string
	name   string
	m      *Manager
	events *eventLog
}

type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.ev {
		fmt.Fprintf(&b, "%s %s: %s\n", e.Level, e.Service, e.Message)
	}
	return b.String()
}

// index returns the position of the first event of service containing msg.
func (l *eventLog) index(service, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.ev {
		if e.Service == service && strings.Contains(e.Message, msg) {
			return i
		}
	}
	return -1
}

func newRig(t *testing.T) *rig {
	t.Helper()
	cli := dockertest.Engine(t)
	label := dockertest.Label(t, cli)
	ref, tag := dockertest.TestsvcImage(t, label)
	r := &rig{t: t, cli: cli, label: label, image: ref, tag: tag, dir: t.TempDir(), events: &eventLog{}}
	r.name = "wzt" + label[len(label)-12:]
	return r
}

// service is a hardened test service; extra lines are added under it.
func (r *rig) service(name string, args []string, extra ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	lines := []string{
		"  " + name + ":",
		"    image: " + r.image,
		"    command: [" + strings.Join(q, ", ") + "]",
		`    user: "10001:10001"`,
		"    read_only: true",
		"    cap_drop: [ALL]",
		`    security_opt: ["no-new-privileges:true"]`,
		"    mem_limit: 64m",
		"    pids_limit: 64",
		`    restart: "no"`,
		`    ports: ["127.0.0.1::8080"]`,
		// A probe that fails says so at once (the unhealthy fault); the
		// timeout and retries only absorb a loaded machine, where a 1 s
		// docker exec probe timing out twice marked a healthy service
		// unhealthy and the watcher restarted it once more than the test
		// killed it (21 restarts for 20 kills).
		"    healthcheck:",
		`      test: ["CMD", "/testsvc", "healthcheck"]`,
		"      interval: 250ms",
		"      timeout: 10s",
		"      retries: 3",
	}
	return strings.Join(append(lines, extra...), "\n")
}

// project writes the compose file and builds the manager.
func (r *rig) project(services ...string) *Manager {
	r.t.Helper()
	src := "name: " + r.name + "\nservices:\n" + strings.Join(services, "\n") + "\nvolumes:\n  data: {}\n  cache: {}\n"
	path := filepath.Join(r.dir, "docker-compose.yml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		r.t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), path, nil)
	if err != nil {
		r.t.Fatalf("%v\n%s", err, src)
	}
	r.m = &Manager{
		Engine: r.cli, Project: p, Poll: 100 * time.Millisecond,
		Audit:       &Audit{Path: filepath.Join(r.dir, "logs", "wizard-audit.jsonl"), User: "tester"},
		ExtraLabels: map[string]string{dockertest.LabelKey: r.label},
		Events:      r.events.add,
	}
	return r.m
}

func (r *rig) up(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	return r.m.Up(ctx, UpOptions{WaitTimeout: timeout})
}

// url is the host URL of a service's published 8080.
func (r *rig) url(service string) string {
	r.t.Helper()
	a, ok, err := r.m.HostPort(context.Background(), service, "8080")
	if err != nil || !ok {
		r.t.Fatalf("no published port for %s: %v", service, err)
	}
	return "http://" + a
}

// fault tells a service to misbehave.
func (r *rig) fault(service, f string) {
	r.t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Post(r.url(service)+"/control/"+f, "text/plain", nil)
	if err != nil {
		if f == "crash" || f == "break-state" {
			return
		}
		r.t.Fatalf("fault %s on %s: %v", f, service, err)
	}
	resp.Body.Close()
}

func (r *rig) audit() []AuditEntry {
	r.t.Helper()
	es, err := ReadAudit(r.m.Audit.Path)
	if err != nil {
		r.t.Fatal(err)
	}
	return es
}

func (r *rig) observe(service string) observed {
	r.t.Helper()
	o, err := r.m.observe(context.Background(), service)
	if err != nil {
		r.t.Fatal(err)
	}
	return o
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
