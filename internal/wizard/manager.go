package wizard

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/compose"
	"github.com/fredbook/udos-dist/internal/retry"
)

// Manager runs one compose project on one engine.
type Manager struct {
	Engine  Engine
	Project *compose.Project
	// Audit receives every state change; nil keeps no trail.
	Audit *Audit
	// Clock paces waits and backoff; nil is the system clock.
	Clock retry.Clock
	// Events receives progress for the user; nil discards it.
	Events func(Event)
	// Poll is how often the engine is looked at while waiting for a
	// state; 0 means 250ms.
	Poll time.Duration
	// ExtraLabels go on every container, network and volume created (tests
	// use them to clean up).
	ExtraLabels map[string]string

	apiVersion string
}

// Event is one line of progress.
type Event struct {
	Level   string // "info", "warn" or "error"
	Service string
	Message string
}

func (m *Manager) emit(level, service, format string, args ...any) {
	if m.Events != nil {
		m.Events(Event{Level: level, Service: service, Message: fmt.Sprintf(format, args...)})
	}
}

func (m *Manager) clock() retry.Clock {
	if m.Clock == nil {
		return retry.SystemClock()
	}
	return m.Clock
}

func (m *Manager) poll() time.Duration {
	if m.Poll <= 0 {
		return 250 * time.Millisecond
	}
	return m.Poll
}

// audit records a state change; a trail that cannot be written is an error
// of the operation, since the trail must be complete.
func (m *Manager) audit(e AuditEntry) error {
	e.Project = m.Project.Name
	if m.Audit != nil && e.Time.IsZero() {
		e.Time = m.clock().Now().UTC()
	}
	return m.Audit.Record(e)
}

// ping checks the engine and remembers the negotiated API version.
func (m *Manager) ping(ctx context.Context) error {
	if _, err := m.Engine.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &UnreachableError{Host: m.Engine.DaemonHost(), FromEnv: m.Engine.DaemonHost() != DefaultSocket, Err: err}
	}
	m.apiVersion = m.Engine.ClientVersion()
	return nil
}

// observed is what the engine says about a service's container.
type observed struct {
	ID        string
	Exists    bool
	Running   bool
	Status    string // created, running, exited …
	Health    string // "", starting, healthy, unhealthy
	ExitCode  int
	OOMKilled bool
	Error     string
	StartedAt time.Time
	Restarts  int
	Image     string
	Hash      string
	LastProbe string
	Ports     map[string]string // "8080/tcp" -> "127.0.0.1:49153"
}

func (o observed) ready(hasHealth bool) bool {
	return o.Running && (!hasHealth || o.Health == string(container.Healthy))
}

func (m *Manager) observe(ctx context.Context, service string) (observed, error) {
	in, err := m.Engine.ContainerInspect(ctx, m.containerName(service), client.ContainerInspectOptions{})
	if isNotFound(err) {
		return observed{}, nil
	}
	if err != nil {
		return observed{}, fmt.Errorf("inspecting %s: %w", m.containerName(service), err)
	}
	return toObserved(in.Container), nil
}

func toObserved(c container.InspectResponse) observed {
	o := observed{ID: c.ID, Exists: true, Image: c.Image}
	if c.Config != nil {
		o.Hash = c.Config.Labels[LabelConfigHash]
	}
	o.Restarts = c.RestartCount
	if s := c.State; s != nil {
		o.Running = s.Running && !s.Restarting
		o.Status = string(s.Status)
		o.ExitCode = s.ExitCode
		o.OOMKilled = s.OOMKilled
		o.Error = s.Error
		if t, err := time.Parse(time.RFC3339Nano, s.StartedAt); err == nil {
			o.StartedAt = t
		}
		if h := s.Health; h != nil {
			o.Health = string(h.Status)
			if n := len(h.Log); n > 0 {
				o.LastProbe = strings.TrimSpace(h.Log[n-1].Output)
			}
		}
	}
	if ns := c.NetworkSettings; ns != nil {
		for p, bs := range ns.Ports {
			for _, b := range bs {
				if o.Ports == nil {
					o.Ports = map[string]string{}
				}
				ip := "0.0.0.0"
				if b.HostIP.IsValid() {
					ip = b.HostIP.String()
				}
				o.Ports[p.String()] = ip + ":" + b.HostPort
			}
		}
	}
	return o
}

func (m *Manager) hasHealth(service string) bool {
	hc := m.Project.Services[service].HealthCheck
	if hc == nil {
		return false
	}
	return !hc.Disable && !(len(hc.Test) > 0 && hc.Test[0] == "NONE")
}

// lastLogs returns the container's last n log lines (stdout and stderr).
func (m *Manager) lastLogs(ctx context.Context, id string, n int) []string {
	if id == "" {
		return nil
	}
	rc, err := m.Engine.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return []string{fmt.Sprintf("(logs unavailable: %v)", err)}
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, io.LimitReader(rc, 1<<20)); err != nil && buf.Len() == 0 {
		return []string{fmt.Sprintf("(logs unreadable: %v)", err)}
	}
	var lines []string
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// ServiceError is a service that failed to come up, recover or stay up,
// with what the engine knows about why.
type ServiceError struct {
	Service   string
	Reason    string
	Health    string
	LastProbe string
	Logs      []string
}

func (e *ServiceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "service %q %s", e.Service, e.Reason)
	if e.LastProbe != "" {
		fmt.Fprintf(&b, "\n  last health probe: %s", e.LastProbe)
	}
	if len(e.Logs) > 0 {
		fmt.Fprintf(&b, "\n  last log lines:")
		for _, l := range e.Logs {
			fmt.Fprintf(&b, "\n    %s", l)
		}
	}
	return b.String()
}

func (m *Manager) serviceError(ctx context.Context, service string, o observed, reason string) *ServiceError {
	return &ServiceError{Service: service, Reason: reason, Health: o.Health, LastProbe: o.LastProbe, Logs: m.lastLogs(ctx, o.ID, 20)}
}

// sleep waits one poll interval or until ctx ends.
func (m *Manager) sleep(ctx context.Context, d time.Duration) error {
	return m.clock().Sleep(ctx, d)
}
