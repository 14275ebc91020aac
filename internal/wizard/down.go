package wizard

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// DefaultStopTimeout is the grace a service gets between its stop signal
// and SIGKILL when neither --timeout nor stop_grace_period says otherwise.
const DefaultStopTimeout = 30 * time.Second

// Stopped is the outcome of stopping one container.
type Stopped struct {
	Service   string        `json:"service"`
	Container string        `json:"container"`
	ExitCode  int           `json:"exit_code"`
	Killed    bool          `json:"killed"` // SIGKILL after the grace period
	Took      time.Duration `json:"took_ns"`
	Signal    string        `json:"signal"`
	// LastLogs are the container's last lines, showing how it ended.
	LastLogs []string `json:"last_logs,omitempty"`
}

// grace is the wait before SIGKILL: override when set, else the service's
// stop_grace_period, else DefaultStopTimeout. The engine counts it in whole
// seconds, so it is rounded up.
func (m *Manager) grace(service string, override time.Duration) time.Duration {
	g := override
	if g <= 0 {
		if svc, ok := m.Project.Services[service]; ok && svc.StopGracePeriod != nil {
			g = time.Duration(*svc.StopGracePeriod)
		}
	}
	if g <= 0 {
		g = DefaultStopTimeout
	}
	if r := g % time.Second; r != 0 {
		g += time.Second - r
	}
	return g
}

func (m *Manager) stopSignal(service string) string {
	if svc, ok := m.Project.Services[service]; ok && svc.StopSignal != "" {
		return svc.StopSignal
	}
	return "SIGTERM"
}

// stopService sends the stop signal, waits the grace period, then SIGKILL
// (the engine does both), and records the exit code.
func (m *Manager) stopService(ctx context.Context, service string, o observed, override time.Duration) (Stopped, error) {
	g := m.grace(service, override)
	secs := int(g / time.Second)
	sig := m.stopSignal(service)
	st := Stopped{Service: service, Container: m.containerName(service), Signal: sig}
	start := time.Now()
	m.emit("info", service, "stopping (%s, then SIGKILL after %s)", sig, g)
	if _, err := m.Engine.ContainerStop(ctx, o.ID, client.ContainerStopOptions{Signal: sig, Timeout: &secs}); err != nil && !isNotFound(err) {
		return st, fmt.Errorf("service %q: stopping: %w", service, err)
	}
	st.Took = time.Since(start)
	after, err := m.observe(ctx, service)
	if err != nil {
		return st, err
	}
	st.ExitCode = after.ExitCode
	st.LastLogs = m.lastLogs(ctx, o.ID, 5)
	// 137 is 128+SIGKILL; a stop that took the whole grace and ended so
	// was the engine's SIGKILL, not the service's own exit.
	st.Killed = after.ExitCode == 137 && st.Took >= g-100*time.Millisecond
	code := st.ExitCode
	msg := "stopped by " + sig
	if st.Killed {
		msg = fmt.Sprintf("did not stop on %s within %s: killed with SIGKILL", sig, g)
		m.emit("warn", service, "%s", msg)
	} else {
		m.emit("info", service, "stopped (exit code %d)", code)
	}
	return st, m.audit(AuditEntry{Action: "stop", Service: service, Container: st.Container, ExitCode: &code, Message: msg})
}

// DownOptions tune Down.
type DownOptions struct {
	// Timeout replaces every service's stop_grace_period when set.
	Timeout time.Duration
}

// Down stops and removes the project's containers in reverse dependency
// order (dependents first), then the project's networks. Volumes are kept:
// they hold the Wizard's state.
func (m *Manager) Down(ctx context.Context, opts DownOptions) ([]Stopped, error) {
	if err := m.ping(ctx); err != nil {
		return nil, err
	}
	order, err := m.Project.Order()
	if err != nil {
		return nil, err
	}
	slices.Reverse(order)
	// Containers of services no longer in the file go first.
	cs, err := m.Engine.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", LabelProject+"="+m.Project.Name)})
	if err != nil {
		return nil, fmt.Errorf("listing the project's containers: %w", err)
	}
	known := map[string]bool{}
	for _, s := range order {
		known[s] = true
	}
	var orphans []string
	for _, c := range cs.Items {
		s := c.Labels[LabelService]
		if s != "" && !known[s] && c.Labels[LabelHelper] == "" {
			orphans = append(orphans, s)
		}
	}
	sort.Strings(orphans)
	var out []Stopped
	for _, s := range append(orphans, order...) {
		o, err := m.observeByLabel(ctx, s)
		if err != nil {
			return out, err
		}
		if !o.Exists {
			continue
		}
		if o.Running {
			st, err := m.stopService(ctx, s, o, opts.Timeout)
			if err != nil {
				return out, err
			}
			out = append(out, st)
		}
		if _, err := m.Engine.ContainerRemove(ctx, o.ID, client.ContainerRemoveOptions{}); err != nil && !isNotFound(err) {
			return out, fmt.Errorf("service %q: removing its container: %w", s, err)
		}
		if err := m.audit(AuditEntry{Action: "remove", Service: s, Container: m.containerName(s), Message: "down"}); err != nil {
			return out, err
		}
	}
	ns, err := m.Engine.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", LabelProject+"="+m.Project.Name)})
	if err != nil {
		return out, fmt.Errorf("listing the project's networks: %w", err)
	}
	for _, n := range ns.Items {
		if _, err := m.Engine.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			return out, fmt.Errorf("removing network %s: %w", n.Name, err)
		}
		m.emit("info", "", "removed network %s", n.Name)
		if err := m.audit(AuditEntry{Action: "network-remove", Message: n.Name}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// observeByLabel finds a service's container by the project labels, so an
// orphan (a service no longer in the file, named by Compose's rule or not)
// is found too.
func (m *Manager) observeByLabel(ctx context.Context, service string) (observed, error) {
	if _, ok := m.Project.Services[service]; ok {
		return m.observe(ctx, service)
	}
	cs, err := m.Engine.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.
		Add("label", LabelProject+"="+m.Project.Name).Add("label", LabelService+"="+service)})
	if err != nil || len(cs.Items) == 0 {
		return observed{}, err
	}
	in, err := m.Engine.ContainerInspect(ctx, cs.Items[0].ID, client.ContainerInspectOptions{})
	if err != nil {
		return observed{}, err
	}
	return toObserved(in.Container), nil
}

// LogsOptions tune Logs.
type LogsOptions struct {
	Follow bool
	Tail   int // 0: all
	Stdout io.Writer
	Stderr io.Writer
}

// Logs copies a service's container logs; with Follow it returns when the
// container stops or ctx ends.
func (m *Manager) Logs(ctx context.Context, service string, opts LogsOptions) error {
	if _, ok := m.Project.Services[service]; !ok {
		return fmt.Errorf("no service %q in %s (services: %v)", service, m.Project.File, m.Project.ServiceNames())
	}
	if err := m.ping(ctx); err != nil {
		return err
	}
	o, err := m.observe(ctx, service)
	if err != nil {
		return err
	}
	if !o.Exists {
		return fmt.Errorf("service %q has no container: run `udos-lib wizard up` first", service)
	}
	tail := "all"
	if opts.Tail > 0 {
		tail = fmt.Sprint(opts.Tail)
	}
	rc, err := m.Engine.ContainerLogs(ctx, o.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Tail: tail})
	if err != nil {
		return fmt.Errorf("service %q: logs: %w", service, err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(opts.Stdout, opts.Stderr, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("service %q: reading logs: %w", service, err)
	}
	return nil
}
