package wizard

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"
)

// ServiceStatus is one service as status shows it.
type ServiceStatus struct {
	Service   string    `json:"service"`
	Container string    `json:"container,omitempty"`
	State     string    `json:"state"`  // running, exited, created … or "missing"
	Health    string    `json:"health"` // healthy, unhealthy, starting, or "none"
	ExitCode  int       `json:"exit_code"`
	Restarts  int       `json:"restarts"`
	StartedAt time.Time `json:"started_at,omitzero"`
	// UptimeSeconds is how long it has been running (0 when it is not).
	UptimeSeconds int64    `json:"uptime_seconds"`
	Image         string   `json:"image"`
	ImageID       string   `json:"image_id,omitempty"`
	ImageDigests  []string `json:"image_digests,omitempty"`
	LastProbe     string   `json:"last_probe,omitempty"`
	Ports         []string `json:"ports,omitempty"`
}

// Status reports every service of the file, in dependency order.
// Restarts counts the engine's own restarts and those watch and recover
// made (from the audit trail) since the container was created.
func (m *Manager) Status(ctx context.Context) ([]ServiceStatus, error) {
	if err := m.ping(ctx); err != nil {
		return nil, err
	}
	order, err := m.Project.Order()
	if err != nil {
		return nil, err
	}
	restarts := m.auditedRestarts()
	now := m.clock().Now()
	var out []ServiceStatus
	for _, s := range order {
		st := ServiceStatus{Service: s, Image: m.Project.Services[s].Image, State: "missing", Health: "none"}
		o, err := m.observe(ctx, s)
		if err != nil {
			return nil, err
		}
		if o.Exists {
			st.Container = m.containerName(s)
			st.State = o.Status
			if o.Health != "" {
				st.Health = o.Health
			}
			st.ExitCode = o.ExitCode
			st.Restarts = o.Restarts + restarts[st.Container]
			st.LastProbe = o.LastProbe
			st.ImageID = o.Image
			if o.Running && !o.StartedAt.IsZero() {
				st.StartedAt = o.StartedAt.UTC()
				st.UptimeSeconds = int64(now.Sub(o.StartedAt) / time.Second)
			}
			if img, err := m.Engine.ImageInspect(ctx, o.Image); err == nil {
				st.ImageDigests = img.RepoDigests
			}
			for _, p := range slices.Sorted(maps.Keys(o.Ports)) {
				st.Ports = append(st.Ports, o.Ports[p]+"->"+p)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// auditedRestarts counts the manager's restarts per container since its
// last creation.
func (m *Manager) auditedRestarts() map[string]int {
	out := map[string]int{}
	if m.Audit == nil {
		return out
	}
	entries, err := ReadAudit(m.Audit.Path)
	if err != nil {
		return out
	}
	for _, e := range entries {
		if e.Project != m.Project.Name || e.Container == "" {
			continue
		}
		switch {
		case e.Action == "create":
			out[e.Container] = 0
		case e.Action == "restart" && !strings.HasPrefix(e.Message, "failed"):
			out[e.Container]++
		}
	}
	return out
}

// HostPort returns the host address a service's container port is
// published on ("127.0.0.1:49153"), for probes from the host.
func (m *Manager) HostPort(ctx context.Context, service, port string) (string, bool, error) {
	o, err := m.observe(ctx, service)
	if err != nil || !o.Exists {
		return "", false, err
	}
	if !strings.Contains(port, "/") {
		port += "/tcp"
	}
	a, ok := o.Ports[port]
	return a, ok, nil
}
