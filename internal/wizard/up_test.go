package wizard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/compose"
	"github.com/fredbook/udos-dist/internal/dockertest"
)

// TestUpInOrderAndDownGracefully: a job that must complete, a database that
// must be healthy, an API that waits for both and a web front that waits
// for the API to have started. Up returns once all are healthy, having
// started each only after its dependencies; down stops them in reverse
// order, each on SIGTERM with exit code 0.
func TestUpInOrderAndDownGracefully(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(
		r.service("migrate", []string{"serve", "--exit-after", "1500ms", "--exit-code", "0"}),
		r.service("db", []string{"serve", "--state", "/data"}, "    volumes: [data:/data]"),
		r.service("api", []string{"serve"},
			"    depends_on:",
			"      db: {condition: service_healthy}",
			"      migrate: {condition: service_completed_successfully}"),
		r.service("web", []string{"serve"}, "    depends_on:", "      api: {condition: service_started}"),
	)
	if err := r.up(time.Minute); err != nil {
		t.Fatalf("up: %v\n%s", err, r.events)
	}
	ev := r.events
	for _, c := range []struct{ before, bs, after, as string }{
		{"db", "healthy", "api", "created"},
		{"migrate", "completed successfully", "api", "created"},
		{"api", "started", "web", "created"},
	} {
		b, a := ev.index(c.before, c.bs), ev.index(c.after, c.as)
		if b < 0 || a < 0 || b > a {
			t.Errorf("%s %q should come before %s %q:\n%s", c.before, c.bs, c.after, c.as, ev)
		}
	}
	st, err := r.m.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Service == "migrate" {
			if s.State != "exited" || s.ExitCode != 0 {
				t.Errorf("migrate: %+v", s)
			}
			continue
		}
		if s.State != "running" || s.Health != "healthy" || len(s.ImageDigests) == 0 || s.LastProbe == "" {
			t.Errorf("status %+v", s)
		}
		if !strings.Contains(s.LastProbe, `"status": "healthy"`) {
			t.Errorf("%s last probe %q", s.Service, s.LastProbe)
		}
	}

	// A second up changes nothing.
	before := len(r.audit())
	if err := r.up(time.Minute); err != nil {
		t.Fatalf("second up: %v", err)
	}
	for _, e := range r.audit()[before:] {
		if e.Action == "create" || e.Action == "recreate" {
			t.Errorf("second up changed %+v", e)
		}
	}

	stopped, err := r.m.Down(context.Background(), DownOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("down: %v", err)
	}
	var order []string
	for _, s := range stopped {
		order = append(order, s.Service)
		if s.ExitCode != 0 || s.Killed {
			t.Errorf("%s: exit %d killed %v", s.Service, s.ExitCode, s.Killed)
		}
		if logs := strings.Join(s.LastLogs, "\n"); !strings.Contains(logs, "received terminated, shutting down") || !strings.Contains(logs, "stopped cleanly") {
			t.Errorf("%s did not log a graceful SIGTERM stop:\n%s", s.Service, logs)
		}
	}
	if strings.Join(order, ",") != "web,api,db" {
		t.Errorf("stop order %v", order)
	}
	var stops int
	for _, e := range r.audit() {
		if e.Action == "stop" {
			stops++
			if e.ExitCode == nil || *e.ExitCode != 0 || e.User != "tester" || e.Project != r.name || e.Time.IsZero() {
				t.Errorf("audit %+v", e)
			}
		}
	}
	if stops != 3 {
		t.Errorf("%d stop entries", stops)
	}
	if o := r.observe("db"); o.Exists {
		t.Errorf("db container left after down")
	}
}

// TestUpFailsOnUnhealthyDependency: a database that never gets healthy
// stops up with its name, its last probe and its last log lines; the API
// waiting for it is never created.
func TestUpFailsOnUnhealthyDependency(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(
		r.service("db", []string{"serve", "--mode", "unhealthy"}),
		r.service("api", []string{"serve"}, "    depends_on:", "      db: {condition: service_healthy}"),
	)
	err := r.up(time.Minute)
	var se *ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("up: %v, want a *ServiceError", err)
	}
	if se.Service != "db" || !strings.Contains(se.Reason, "unhealthy") {
		t.Errorf("error %+v", se)
	}
	if !strings.Contains(se.LastProbe, "HTTP 503") {
		t.Errorf("last probe %q", se.LastProbe)
	}
	if !strings.Contains(strings.Join(se.Logs, "\n"), "listening on") {
		t.Errorf("log lines %q", se.Logs)
	}
	msg := err.Error()
	for _, want := range []string{`service "db"`, "last health probe", "HTTP 503", "last log lines"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if o := r.observe("api"); o.Exists {
		t.Errorf("api was created although db never got healthy")
	}
}

// TestUpTimeout: a service still starting when the wait runs out.
func TestUpTimeout(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(r.service("slow", []string{"serve", "--mode", "unhealthy"}, "      start_period: 5m"))
	start := time.Now()
	err := r.up(2 * time.Second)
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != "slow" || !strings.Contains(se.Reason, "starting after 2s") {
		t.Fatalf("up: %v", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("up took %s", took)
	}
}

// TestDownFallsBackToSIGKILL: a service that ignores SIGTERM is killed
// after the timeout; the exit code says so and the trail records it.
func TestDownFallsBackToSIGKILL(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(r.service("stubborn", []string{"serve", "--mode", "ignore-sigterm"}))
	if err := r.up(time.Minute); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stopped, err := r.m.Down(context.Background(), DownOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(stopped) != 1 || !stopped[0].Killed || stopped[0].ExitCode != 137 {
		t.Fatalf("stopped %+v", stopped)
	}
	if logs := strings.Join(stopped[0].LastLogs, "\n"); !strings.Contains(logs, "received terminated, ignoring it") {
		t.Errorf("logs:\n%s", logs)
	}
	if took := time.Since(start); took < time.Second || took > 15*time.Second {
		t.Errorf("down took %s", took)
	}
	var found bool
	for _, e := range r.audit() {
		if e.Action == "stop" && strings.Contains(e.Message, "SIGKILL") && e.ExitCode != nil && *e.ExitCode == 137 {
			found = true
		}
	}
	if !found {
		t.Errorf("no SIGKILL in the audit trail: %+v", r.audit())
	}
}

// TestUpRefusesInsecure: a failing hardening check stops up before the
// engine is touched, unless --allow-insecure, which warns per check.
func TestUpRefusesInsecure(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	m := r.project(strings.Replace(r.service("app", []string{"serve"}), "    read_only: true\n", "", 1))
	err := r.up(time.Minute)
	var he *HardeningError
	if !errors.As(err, &he) || len(he.Findings) != 1 || he.Findings[0].Check != "read-only" {
		t.Fatalf("up: %v", err)
	}
	if o := r.observe("app"); o.Exists {
		t.Fatal("an insecure service was created")
	}
	ctx := context.Background()
	if err := m.Up(ctx, UpOptions{WaitTimeout: time.Minute, AllowInsecure: true}); err != nil {
		t.Fatalf("up --allow-insecure: %v", err)
	}
	if r.events.index("app", "read_only") < 0 {
		t.Errorf("no warning:\n%s", r.events)
	}
}

// TestUnreachableEngine: DOCKER_HOST pointing at a socket nobody listens
// on gives one line naming it and how to start Docker.
func TestUnreachableEngine(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	os.WriteFile(sock, nil, 0o600) // a file, not a listening socket
	env := map[string]string{"DOCKER_HOST": "unix://" + sock}
	_, err := Connect(context.Background(), func(k string) string { return env[k] })
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("connect: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"DOCKER_HOST=unix://" + sock, "systemctl start docker", "Docker Desktop"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("not one line: %q", msg)
	}
	// The default socket, when DOCKER_HOST is unset, is named too.
	e2 := (&UnreachableError{Host: DefaultSocket, Err: errors.New("connection refused")}).Error()
	if !strings.Contains(e2, "/var/run/docker.sock") || !strings.Contains(e2, "DOCKER_HOST is unset") {
		t.Errorf("default socket message: %s", e2)
	}
}

// TestComposeOrderCycle: a dependency cycle is refused before anything.
func TestComposeOrderCycle(t *testing.T) {
	src := "name: c\nservices:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n"
	p, err := compose.LoadBytes(context.Background(), filepath.Join(t.TempDir(), "c.yml"), []byte(src), nil)
	if err != nil {
		// compose-go itself may refuse cycles; either way it is an error.
		if !strings.Contains(err.Error(), "cycle") {
			t.Fatalf("cycle: %v", err)
		}
		return
	}
	if _, err := p.Order(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("order: %v", err)
	}
}

// TestUpVolumesAndExternals: the project's volumes are created with our
// labels and the Compose file's own (which win); a volume declared external
// that does not exist stops up before any container, saying how to create it.
func TestUpVolumesAndExternals(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(r.service("api", []string{"serve"}))
	cache := r.m.Project.Volumes["cache"]
	cache.Labels = map[string]string{"org.example.tier": "cache", LabelVolume: "renamed"}
	r.m.Project.Volumes["cache"] = cache
	data := r.m.Project.Volumes["data"]
	data.External = true
	data.Name = r.name + "-missing"
	r.m.Project.Volumes["data"] = data

	err := r.up(time.Minute)
	want := "volume " + data.Name + " is declared external but does not exist: create it first (docker volume create " + data.Name + ")"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("up = %v, want %q", err, want)
	}
	if o := r.observe("api"); o.Exists {
		t.Errorf("api was created although a volume is missing")
	}
	ctx := context.Background()
	v, err := r.cli.VolumeInspect(ctx, r.m.volumeName("cache"), client.VolumeInspectOptions{})
	if err != nil {
		t.Fatalf("the cache volume was not created: %v", err)
	}
	t.Cleanup(func() { r.cli.VolumeRemove(ctx, r.m.volumeName("cache"), client.VolumeRemoveOptions{Force: true}) })
	l := v.Volume.Labels
	if l["org.example.tier"] != "cache" || l[LabelVolume] != "renamed" || l[LabelProject] != r.name || l[dockertest.LabelKey] != r.label {
		t.Errorf("cache volume labels %v", l)
	}
}
