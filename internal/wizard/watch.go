package wizard

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/retry"
)

// WatchOptions tune Watch. The zero value is the seed's policy: look every
// 5 s, wait 5 s before the first restart and double the wait for each
// further one, at most 5 restarts of a service in any 120 s window.
type WatchOptions struct {
	Interval    time.Duration
	Backoff     retry.Backoff
	MaxRestarts int
	Window      time.Duration
	// StopTimeout is the grace an unhealthy (still running) container gets
	// before SIGKILL when it is restarted; 0: the service's own.
	StopTimeout time.Duration
}

// DefaultWatch is the seed's supervision policy.
var DefaultWatch = WatchOptions{
	Interval:    5 * time.Second,
	Backoff:     retry.Backoff{Base: 5 * time.Second},
	MaxRestarts: 5,
	Window:      120 * time.Second,
}

func (o WatchOptions) withDefaults() WatchOptions {
	d := DefaultWatch
	if o.Interval > 0 {
		d.Interval = o.Interval
	}
	if o.Backoff.Base > 0 {
		d.Backoff = o.Backoff
	}
	if o.MaxRestarts > 0 {
		d.MaxRestarts = o.MaxRestarts
	}
	if o.Window > 0 {
		d.Window = o.Window
	}
	d.StopTimeout = o.StopTimeout
	return d
}

// GaveUpError is watch giving up on services that kept failing.
type GaveUpError struct {
	Failures []*ServiceError
}

func (e *GaveUpError) Error() string {
	var b strings.Builder
	for i, f := range e.Failures {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(f.Error())
	}
	return b.String()
}

// supervised is watch's memory of one service.
type supervised struct {
	restarts []time.Time // restarts inside the window
	due      time.Time   // a restart is waiting until then
	pending  string      // why the pending restart is needed
	starting bool        // restarted, not yet healthy again
	since    time.Time   // when the failure was first seen
	gaveUp   bool
}

// Recovery is one failure watch repaired: from the moment it saw the
// failure to the moment the service was ready again.
type Recovery struct {
	Service string
	Reason  string
	Took    time.Duration
}

// Watch supervises the project until ctx ends: every interval it looks at
// each long-running service and restarts one that has exited or turned
// unhealthy (the engine restarts crashed containers at most, never
// unhealthy ones), waiting the backoff before each restart. A service
// restarted more than MaxRestarts times in Window is given up on, loudly:
// an error event, an audit entry, and a *GaveUpError once nothing is left
// to supervise (or when ctx ends). After a restarted service is ready
// again, the dependents that declare `restart: true` on it are restarted.
// onRecover, when set, hears of every repaired failure.
func (m *Manager) Watch(ctx context.Context, opts WatchOptions, onRecover func(Recovery)) error {
	if err := m.ping(ctx); err != nil {
		return err
	}
	opts = opts.withDefaults()
	order, err := m.Project.Order()
	if err != nil {
		return err
	}
	jobs := m.jobs()
	var services []string
	for _, s := range order {
		if !jobs[s] {
			services = append(services, s)
		}
	}
	state := map[string]*supervised{}
	for _, s := range services {
		state[s] = &supervised{}
	}
	var failures []*ServiceError
	clock := m.clock()
	m.emit("info", "", "watching %d service(s) every %s", len(services), opts.Interval)
	if err := m.audit(AuditEntry{Action: "watch-start", Message: strings.Join(services, ",")}); err != nil {
		return err
	}
	for {
		now := clock.Now()
		active := 0
		for _, s := range services {
			st := state[s]
			if st.gaveUp {
				continue
			}
			active++
			o, err := m.observe(ctx, s)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return err
			}
			reason := m.failure(s, o)
			switch {
			case reason == "" && st.starting:
				if o.ready(m.hasHealth(s)) {
					st.starting = false
					took := now.Sub(st.since)
					m.emit("info", s, "recovered after %s", took.Round(time.Millisecond))
					code := o.ExitCode
					if err := m.audit(AuditEntry{Action: "recovered", Service: s, Container: m.containerName(s),
						Health: o.Health, ExitCode: &code, Message: fmt.Sprintf("ready %s after the failure (%s)", took.Round(time.Millisecond), st.pending)}); err != nil {
						return err
					}
					if onRecover != nil {
						onRecover(Recovery{Service: s, Reason: st.pending, Took: took})
					}
					st.pending = ""
					if err := m.restartDependents(ctx, s, opts); err != nil {
						m.emit("error", s, "%v", err)
					}
				}
				continue
			case reason == "":
				st.pending, st.due = "", time.Time{}
				continue
			}
			// A failure.
			if st.pending == "" {
				st.since, st.pending = now, reason
			}
			if st.due.IsZero() {
				st.restarts = inWindow(st.restarts, now, opts.Window)
				if len(st.restarts) >= opts.MaxRestarts {
					st.gaveUp = true
					se := m.serviceError(ctx, s, o, fmt.Sprintf("%s; watch gave up after %d restarts in %s", reason, len(st.restarts), opts.Window))
					failures = append(failures, se)
					m.emit("error", s, "giving up: %s after %d restarts in %s; fix it and run `udos-lib wizard recover %s`", reason, len(st.restarts), opts.Window, s)
					if err := m.audit(AuditEntry{Action: "give-up", Service: s, Container: m.containerName(s),
						Health: o.Health, Message: fmt.Sprintf("%s; %d restarts in %s", reason, len(st.restarts), opts.Window)}); err != nil {
						return err
					}
					continue
				}
				delay := opts.Backoff.Delay(len(st.restarts))
				st.due, st.pending = now.Add(delay), reason
				m.emit("warn", s, "%s: restarting in %s (restart %d of at most %d in %s)", reason, delay, len(st.restarts)+1, opts.MaxRestarts, opts.Window)
			}
			if now.Before(st.due) {
				continue
			}
			st.due = time.Time{}
			st.restarts = append(st.restarts, now)
			st.starting = true
			if err := m.restart(ctx, s, o, reason, opts.StopTimeout); err != nil {
				if ctx.Err() != nil {
					break
				}
				m.emit("error", s, "%v", err)
			}
		}
		if ctx.Err() != nil {
			break
		}
		if active == 0 {
			break
		}
		if err := m.sleep(ctx, m.nextWake(state, opts.Interval)); err != nil {
			break
		}
	}
	m.audit(AuditEntry{Action: "watch-stop", Message: fmt.Sprintf("%d service(s) given up", len(failures))})
	if len(failures) > 0 {
		return &GaveUpError{Failures: failures}
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return nil
}

// nextWake is the interval, shortened to the nearest pending restart or
// to the poll interval while a restarted service is coming back, so that
// recovery is seen (and timed) promptly.
func (m *Manager) nextWake(state map[string]*supervised, interval time.Duration) time.Duration {
	d := interval
	now := m.clock().Now()
	for _, st := range state {
		if st.gaveUp {
			continue
		}
		if st.starting && m.poll() < d {
			d = m.poll()
		}
		if !st.due.IsZero() {
			if w := st.due.Sub(now); w < d {
				d = max(w, time.Millisecond)
			}
		}
	}
	return d
}

// failure says why a service needs a restart, or "".
func (m *Manager) failure(s string, o observed) string {
	switch {
	case !o.Exists:
		return "has no container"
	case o.Status == "restarting" || o.Status == "removing" || o.Status == "paused":
		return "" // the engine (or the user) is at it
	case !o.Running:
		r := fmt.Sprintf("%s with code %d", o.Status, o.ExitCode)
		if o.OOMKilled {
			r += " (out of memory)"
		}
		return r
	case o.Health == "unhealthy":
		return "is unhealthy"
	}
	return ""
}

func inWindow(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	out := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < window {
			out = append(out, t)
		}
	}
	return out
}

// restart brings one service back: a running (unhealthy) container is
// stopped gracefully first; a missing one is created from the file.
func (m *Manager) restart(ctx context.Context, s string, o observed, reason string, grace time.Duration) error {
	if !o.Exists {
		// Removed behind the manager's back: what it needs may be gone too.
		if err := m.ensureNetworks(ctx); err != nil {
			return err
		}
		if err := m.ensureVolumes(ctx); err != nil {
			return err
		}
		cs, err := m.spec(s)
		if err != nil {
			return err
		}
		return m.ensureService(ctx, s, cs)
	}
	if o.Running {
		if _, err := m.stopService(ctx, s, o, grace); err != nil {
			return err
		}
	}
	if _, err := m.Engine.ContainerStart(ctx, o.ID, client.ContainerStartOptions{}); err != nil {
		m.audit(AuditEntry{Action: "restart", Service: s, Container: m.containerName(s), Health: o.Health, Message: "failed: " + err.Error()})
		return &StartError{Service: s, Err: err}
	}
	m.emit("info", s, "restarted (%s)", reason)
	code := o.ExitCode
	return m.audit(AuditEntry{Action: "restart", Service: s, Container: m.containerName(s), ExitCode: &code, Health: o.Health, Message: reason})
}

// restartDependents restarts the services that depend on s with
// `restart: true`, as Compose does when it restarts a dependency.
func (m *Manager) restartDependents(ctx context.Context, s string, opts WatchOptions) error {
	var deps []string
	for name, svc := range m.Project.Services {
		if d, ok := svc.DependsOn[s]; ok && d.Restart {
			deps = append(deps, name)
		}
	}
	sort.Strings(deps)
	var errs []error
	for _, d := range deps {
		o, err := m.observe(ctx, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := m.restart(ctx, d, o, "its dependency "+s+" was restarted", opts.StopTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
