package wizard

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/retry"
)

// fastWatch is the seed's policy scaled down for tests.
var fastWatch = WatchOptions{
	Interval:    100 * time.Millisecond,
	Backoff:     retry.Backoff{Base: 50 * time.Millisecond, Max: 400 * time.Millisecond},
	MaxRestarts: 5,
	Window:      time.Second,
	StopTimeout: 2 * time.Second,
}

// watching runs Watch in the background; stop ends it and returns its error.
func (r *rig) watching(opts WatchOptions) (recovered <-chan Recovery, stop func() error) {
	ch := make(chan Recovery, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.m.Watch(ctx, opts, func(rc Recovery) { ch <- rc }) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			cancel()
			err = <-done
			stopped = true
		}
		return err
	}
	r.t.Cleanup(func() { stop() })
	return ch, stop
}

func waitRecovery(t *testing.T, ch <-chan Recovery, service string, timeout time.Duration) Recovery {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case rc := <-ch:
			if rc.Service == service {
				return rc
			}
		case <-deadline:
			t.Fatalf("%s was not recovered within %s", service, timeout)
		}
	}
}

// TestWatchBringsBackKilledService: the engine's SIGKILL, 20 times; watch
// brings the service back to healthy every time.
func TestWatchBringsBackKilledService(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(r.service("app", []string{"serve"}))
	if err := r.up(time.Minute); err != nil {
		t.Fatal(err)
	}
	ch, stop := r.watching(fastWatch)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		id := r.observe("app").ID
		if _, err := r.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		rc := waitRecovery(t, ch, "app", 30*time.Second)
		if !strings.Contains(rc.Reason, "exited with code 137") {
			t.Errorf("kill %d: reason %q", i, rc.Reason)
		}
		if o := r.observe("app"); !o.ready(true) {
			t.Fatalf("kill %d: recovered but %+v", i, o)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("watch: %v", err)
	}
	var restarts int
	for _, e := range r.audit() {
		if e.Action == "restart" && e.Service == "app" {
			restarts++
		}
	}
	if restarts != 20 {
		t.Errorf("%d restarts in the audit trail, want 20", restarts)
	}
	st, err := r.m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Restarts != 20 {
		t.Errorf("status restarts %d", st[0].Restarts)
	}
}

// TestWatchRestartsUnhealthy: a service that is running but unhealthy
// (which the engine leaves alone) is restarted gracefully; its dependent,
// declaring restart: true, is restarted after it.
func TestWatchRestartsUnhealthy(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(
		r.service("db", []string{"serve"}),
		r.service("api", []string{"serve"}, "    depends_on:", "      db: {condition: service_healthy, restart: true}"),
	)
	if err := r.up(time.Minute); err != nil {
		t.Fatal(err)
	}
	before := r.observe("db")
	ch, stop := r.watching(fastWatch)
	r.fault("db", "unhealthy")
	rc := waitRecovery(t, ch, "db", 30*time.Second)
	if rc.Reason != "is unhealthy" {
		t.Errorf("reason %q", rc.Reason)
	}
	after := r.observe("db")
	if after.ID != before.ID || !after.StartedAt.After(before.StartedAt) {
		t.Errorf("db not restarted in place: %+v -> %+v", before, after)
	}
	waitFor(t, 30*time.Second, "api restarted after db", func() bool {
		for _, e := range r.audit() {
			if e.Action == "restart" && e.Service == "api" && strings.Contains(e.Message, "dependency db") {
				return true
			}
		}
		return false
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var gracefulStop bool
	for _, e := range r.audit() {
		if e.Action == "stop" && e.Service == "db" && e.ExitCode != nil && *e.ExitCode == 0 {
			gracefulStop = true
		}
	}
	if !gracefulStop {
		t.Errorf("the unhealthy db was not stopped gracefully: %+v", r.audit())
	}
}

// TestWatchGivesUp: a service that dies soon after every start is
// restarted MaxRestarts times within the window, then given up on loudly.
func TestWatchGivesUp(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(r.service("flaky", []string{"serve", "--exit-after", "300ms", "--exit-code", "3"}))
	if err := r.up(time.Minute); err == nil {
		t.Fatal("up of a service that exits at once succeeded")
	}
	opts := fastWatch
	opts.Window = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := r.m.Watch(ctx, opts, nil)
	if ctx.Err() != nil {
		t.Fatal("watch did not give up")
	}
	var gu *GaveUpError
	if !errors.As(err, &gu) || len(gu.Failures) != 1 || gu.Failures[0].Service != "flaky" {
		t.Fatalf("watch: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "gave up after 5 restarts in 1m0s") || !strings.Contains(msg, "exiting 3") {
		t.Errorf("message:\n%s", msg)
	}
	if r.events.index("flaky", "giving up") < 0 {
		t.Errorf("no loud give-up event:\n%s", r.events)
	}
	var restarts, giveUps int
	for _, e := range r.audit() {
		switch {
		case e.Action == "restart" && e.Service == "flaky":
			restarts++
		case e.Action == "give-up":
			giveUps++
		}
	}
	if restarts != 5 || giveUps != 1 {
		t.Errorf("%d restarts, %d give-ups", restarts, giveUps)
	}
}
