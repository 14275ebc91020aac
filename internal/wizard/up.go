package wizard

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"

	"github.com/fredbook/udos-dist/internal/compose"
)

// UpOptions tune Up.
type UpOptions struct {
	// WaitTimeout bounds the wait for every service to be healthy; 0 means
	// 5 minutes.
	WaitTimeout time.Duration
	// AllowInsecure starts a file that fails hardening checks, with a
	// warning per failed check.
	AllowInsecure bool
	Harden        compose.HardenOptions
	// Trust, when set, refuses any image that is not signed by it.
	Trust *Trust
}

// HardeningError is a compose file that fails hardening checks.
type HardeningError struct {
	File     string
	Findings []compose.Finding
}

func (e *HardeningError) Error() string {
	return fmt.Sprintf("%s fails %d hardening check(s); fix them or pass --allow-insecure", e.File, len(e.Findings))
}

// Check runs the hardening checks. With allowInsecure the findings are
// warnings and the error is nil.
func (m *Manager) Check(opts compose.HardenOptions, allowInsecure bool) ([]compose.Finding, error) {
	fs, err := m.Project.Harden(opts)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, nil
	}
	if allowInsecure {
		for _, f := range fs {
			m.emit("warn", f.Service, "insecure (allowed by --allow-insecure): %s", f)
		}
		return fs, nil
	}
	return fs, &HardeningError{File: m.Project.File, Findings: fs}
}

// Up brings the project up: hardening, images (pulled when missing and
// verified with opts.Trust), networks, volumes, then the services in
// dependency order, each started only once its dependencies meet their
// depends_on condition. It returns when every service is running and
// healthy (a job that others wait for with service_completed_successfully
// must have exited 0), or with a *ServiceError naming the first service
// that failed or was not ready in time.
func (m *Manager) Up(ctx context.Context, opts UpOptions) error {
	if err := m.ping(ctx); err != nil {
		return err
	}
	if _, err := m.Check(opts.Harden, opts.AllowInsecure); err != nil {
		return err
	}
	order, err := m.Project.Order()
	if err != nil {
		return err
	}
	if err := m.checkDependencies(); err != nil {
		return err
	}
	specs := map[string]*createSpec{}
	for _, s := range order {
		cs, err := m.spec(s)
		if err != nil {
			return err
		}
		specs[s] = cs
	}
	if err := m.ensureImages(ctx, order, opts.Trust); err != nil {
		return err
	}
	if err := m.ensureNetworks(ctx); err != nil {
		return err
	}
	if err := m.ensureVolumes(ctx); err != nil {
		return err
	}
	timeout := opts.WaitTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	return m.startAndWait(ctx, order, specs, timeout)
}

// checkDependencies refuses waits that can never be met.
func (m *Manager) checkDependencies() error {
	for _, name := range m.Project.ServiceNames() {
		for dep, d := range m.Project.Services[name].DependsOn {
			if d.Condition == types.ServiceConditionHealthy && !m.hasHealth(dep) {
				return fmt.Errorf("%s: service %q waits for %q to be healthy, but %q has no healthcheck",
					m.Project.File, name, dep, dep)
			}
		}
	}
	return nil
}

// jobs are the services others wait for with service_completed_successfully:
// they are done when they exit 0.
func (m *Manager) jobs() map[string]bool {
	out := map[string]bool{}
	for _, s := range m.Project.Services {
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionCompletedSuccessfully {
				out[dep] = true
			}
		}
	}
	return out
}

func (m *Manager) startAndWait(ctx context.Context, order []string, specs map[string]*createSpec, timeout time.Duration) error {
	clock := m.clock()
	deadline := clock.Now().Add(timeout)
	jobs := m.jobs()
	started := map[string]bool{}
	done := map[string]bool{}
	state := map[string]observed{}
	for {
		// Look at every started service.
		for _, s := range order {
			if !started[s] || done[s] {
				continue
			}
			o, err := m.observe(ctx, s)
			if err != nil {
				return err
			}
			state[s] = o
			switch {
			case !o.Exists:
				return &ServiceError{Service: s, Reason: "lost its container while starting (removed by someone else?)"}
			case jobs[s] && !o.Running && o.Status == "exited" && o.ExitCode == 0:
				done[s] = true
				m.emit("info", s, "completed successfully")
			case !o.Running && (o.Status == "exited" || o.Status == "dead"):
				reason := fmt.Sprintf("exited with code %d", o.ExitCode)
				if o.OOMKilled {
					reason += " (killed: out of memory)"
				}
				return m.serviceError(ctx, s, o, reason)
			case o.Health == "unhealthy":
				return m.serviceError(ctx, s, o, "is unhealthy")
			case !jobs[s] && o.ready(m.hasHealth(s)):
				done[s] = true
				if m.hasHealth(s) {
					m.emit("info", s, "healthy")
				} else {
					m.emit("info", s, "running (no healthcheck)")
				}
			}
		}
		// Start what can start.
		for _, s := range order {
			if started[s] {
				continue
			}
			if !m.dependenciesMet(s, state, done) {
				continue
			}
			if err := m.ensureService(ctx, s, specs[s]); err != nil {
				return err
			}
			started[s] = true
		}
		if len(done) == len(order) {
			return nil
		}
		if !clock.Now().Before(deadline) {
			for _, s := range order {
				if done[s] {
					continue
				}
				if !started[s] {
					return &ServiceError{Service: s, Reason: fmt.Sprintf("was never started: its dependencies were not ready within %s (%s)", timeout, m.waitingFor(s, done))}
				}
				o := state[s]
				what := "is not healthy"
				if o.Health != "" {
					what = fmt.Sprintf("is %s", o.Health)
				} else if !o.Running {
					what = "is not running"
				}
				return m.serviceError(ctx, s, o, fmt.Sprintf("%s after %s", what, timeout))
			}
		}
		if err := m.sleep(ctx, m.poll()); err != nil {
			return err
		}
	}
}

func (m *Manager) waitingFor(s string, done map[string]bool) string {
	var w []string
	for _, dep := range slices.Sorted(maps.Keys(m.Project.Services[s].DependsOn)) {
		if !done[dep] {
			w = append(w, fmt.Sprintf("waiting for %s: %s", dep, m.Project.Services[s].DependsOn[dep].Condition))
		}
	}
	return strings.Join(w, "; ")
}

func (m *Manager) dependenciesMet(s string, state map[string]observed, done map[string]bool) bool {
	for dep, d := range m.Project.Services[s].DependsOn {
		if _, ok := m.Project.Services[dep]; !ok && !d.Required {
			continue
		}
		o := state[dep]
		switch d.Condition {
		case types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully:
			if !done[dep] {
				return false
			}
		default: // service_started
			if !o.Running && !done[dep] {
				return false
			}
		}
	}
	return true
}

// ensureService makes the service's container match its spec and run:
// an up-to-date running container is left alone, a stopped one started,
// an outdated one recreated.
func (m *Manager) ensureService(ctx context.Context, s string, cs *createSpec) error {
	o, err := m.observe(ctx, s)
	if err != nil {
		return err
	}
	if o.Exists && o.Hash != cs.Hash {
		m.emit("info", s, "configuration changed: recreating %s", cs.Name)
		if err := m.removeContainer(ctx, s, o, "recreate"); err != nil {
			return err
		}
		o = observed{}
	}
	if !o.Exists {
		id, err := m.createContainer(ctx, s, cs)
		if err != nil {
			return err
		}
		o.ID = id
	} else if o.Running {
		m.emit("info", s, "already running")
		return nil
	}
	return m.startContainer(ctx, s, o.ID, "start")
}

func (m *Manager) createContainer(ctx context.Context, s string, cs *createSpec) (string, error) {
	res, err := m.Engine.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: cs.Name, Config: cs.Config, HostConfig: cs.HostConfig, NetworkingConfig: cs.Network,
	})
	if err != nil {
		return "", fmt.Errorf("service %q: creating %s: %w", s, cs.Name, err)
	}
	for _, name := range slices.Sorted(maps.Keys(cs.Extra)) {
		if _, err := m.Engine.NetworkConnect(ctx, name, client.NetworkConnectOptions{Container: res.ID, EndpointConfig: cs.Extra[name]}); err != nil {
			return "", fmt.Errorf("service %q: connecting %s to %s: %w", s, cs.Name, name, err)
		}
	}
	m.emit("info", s, "created %s", cs.Name)
	return res.ID, m.audit(AuditEntry{Action: "create", Service: s, Container: cs.Name, Message: "image " + cs.Config.Image})
}

func (m *Manager) startContainer(ctx context.Context, s, id, action string) error {
	if _, err := m.Engine.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		m.audit(AuditEntry{Action: action, Service: s, Container: m.containerName(s), Message: "failed: " + err.Error()})
		return &StartError{Service: s, Err: err}
	}
	m.emit("info", s, "started")
	return m.audit(AuditEntry{Action: action, Service: s, Container: m.containerName(s)})
}

// StartError is the engine refusing to start a container (a port already
// taken, a missing mount source …).
type StartError struct {
	Service string
	Err     error
}

func (e *StartError) Error() string { return fmt.Sprintf("service %q: starting: %v", e.Service, e.Err) }
func (e *StartError) Unwrap() error { return e.Err }

// removeContainer stops (gracefully) and removes a service's container.
func (m *Manager) removeContainer(ctx context.Context, s string, o observed, why string) error {
	if o.Running {
		if _, err := m.stopService(ctx, s, o, 0); err != nil {
			return err
		}
	}
	if _, err := m.Engine.ContainerRemove(ctx, o.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
		return fmt.Errorf("service %q: removing its container: %w", s, err)
	}
	return m.audit(AuditEntry{Action: "remove", Service: s, Container: m.containerName(s), Message: why})
}

func (m *Manager) ensureNetworks(ctx context.Context) error {
	keys := map[string]bool{}
	for _, s := range m.Project.Services {
		if s.NetworkMode != "" {
			continue
		}
		if len(s.Networks) == 0 {
			keys["default"] = true
		}
		for k := range s.Networks {
			keys[k] = true
		}
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		nc := m.Project.Networks[key]
		name := m.networkName(key)
		driver := nc.Driver
		if driver == "" {
			driver = "bridge"
		}
		err := m.ensure("network", name, bool(nc.External), func() error {
			_, err := m.Engine.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
			return err
		}, func() error {
			_, err := m.Engine.NetworkCreate(ctx, name, client.NetworkCreateOptions{
				Driver: driver, Internal: nc.Internal, Attachable: nc.Attachable, Options: nc.DriverOpts,
				Labels: m.objectLabels(LabelNetwork, key, nc.Labels),
			})
			if isConflict(err) {
				return nil // created meanwhile by another run
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) ensureVolumes(ctx context.Context) error {
	for _, key := range slices.Sorted(maps.Keys(m.Project.Volumes)) {
		if err := m.ensureVolume(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) ensureVolume(ctx context.Context, key string) error {
	vc := m.Project.Volumes[key]
	name := m.volumeName(key)
	return m.ensure("volume", name, bool(vc.External), func() error {
		_, err := m.Engine.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
		return err
	}, func() error {
		_, err := m.Engine.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Driver: vc.Driver, DriverOpts: vc.DriverOpts,
			Labels: m.objectLabels(LabelVolume, key, vc.Labels)})
		return err
	})
}

// ensure creates a project network or volume unless one of that name
// exists. A missing external one is the operator's to create, so it is an
// error that says how; one created here is announced and audited.
func (m *Manager) ensure(kind, name string, external bool, inspect, create func() error) error {
	if err := inspect(); err == nil {
		return nil
	} else if !isNotFound(err) {
		return fmt.Errorf("%s %s: %w", kind, name, err)
	}
	if external {
		return fmt.Errorf("%s %s is declared external but does not exist: create it first (docker %s create %s)", kind, name, kind, name)
	}
	if err := create(); err != nil {
		return fmt.Errorf("creating %s %s: %w", kind, name, err)
	}
	m.emit("info", "", "created %s %s", kind, name)
	return m.audit(AuditEntry{Action: kind + "-create", Message: name})
}

// objectLabels are the labels of a project network or volume: ours, then
// the ones the Compose file gives it (which win).
func (m *Manager) objectLabels(label, key string, own map[string]string) map[string]string {
	extra := map[string]string{label: key}
	for k, v := range own {
		extra[k] = v
	}
	return m.labels(extra)
}

// ensureImages pulls missing images and, with trust, verifies each one.
func (m *Manager) ensureImages(ctx context.Context, order []string, trust *Trust) error {
	seen := map[string]bool{}
	for _, s := range order {
		img := m.Project.Services[s].Image
		if seen[img] {
			continue
		}
		seen[img] = true
		_, err := m.Engine.ImageInspect(ctx, img)
		if isNotFound(err) || (err == nil && m.Project.Services[s].PullPolicy == types.PullPolicyAlways) {
			m.emit("info", s, "pulling %s", img)
			if err := m.pull(ctx, img); err != nil {
				return fmt.Errorf("service %q: pulling %s: %w", s, img, err)
			}
			if err := m.audit(AuditEntry{Action: "pull", Service: s, Message: img}); err != nil {
				return err
			}
		} else if err != nil {
			return fmt.Errorf("service %q: image %s: %w", s, img, err)
		}
		if trust != nil {
			v, err := m.verifyLocal(ctx, img, trust)
			if err != nil {
				m.audit(AuditEntry{Action: "verify-image", Service: s, Message: "refused: " + err.Error()})
				return fmt.Errorf("service %q: %w", s, err)
			}
			m.emit("info", s, "image %s is signed by %s", img, v.Signer)
			if err := m.audit(AuditEntry{Action: "verify-image", Service: s, Message: fmt.Sprintf("%s signed by %s", v.Digest, v.Signer)}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Manager) pull(ctx context.Context, ref string) error {
	rc, err := m.Engine.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := rc.Wait(ctx); err != nil {
		return err
	}
	if _, err := m.Engine.ImageInspect(ctx, ref); err != nil {
		return errors.Join(errors.New("the engine reported success but has no such image"), err)
	}
	return nil
}
