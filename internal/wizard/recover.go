package wizard

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Remedy is what recover does about a failure.
type Remedy string

// The remedies, mildest first.
const (
	RemedyRestart    Remedy = "restart"     // start the same container again
	RemedyRecreate   Remedy = "recreate"    // a new container from the compose file
	RemedyResetState Remedy = "reset-state" // empty the service's state volumes, then recreate
)

// Pattern is a known failure: a regular expression over the service's
// recent log lines (and the engine's own error), and the remedy.
type Pattern struct {
	ID     string
	Match  *regexp.Regexp
	Remedy Remedy
	// Advice is told to the user when the remedy did not help.
	Advice string
}

// Patterns is the table of known failures (docs/DOCKER-OPERATIONS.md
// lists it), tried in order; the first match wins. A failure no pattern
// matches gets a restart.
var Patterns = []Pattern{
	{ID: "port-in-use", Match: regexp.MustCompile(`(?i)address already in use|port is already allocated|bind: .*in use`),
		Remedy: RemedyRecreate, Advice: "another process holds the port: stop it (ss -ltnp shows which) or change the published port"},
	{ID: "volume-permission", Match: regexp.MustCompile(`(?i)permission denied|read-only file system|operation not permitted`),
		Remedy: RemedyResetState, Advice: "the state volume is not writable by the service's user: fix its owner, or allow recover to reset it with x-udos.reset_volumes"},
	{ID: "out-of-memory", Match: regexp.MustCompile(`(?i)out of memory|cannot allocate memory|oom-?kill|MemoryError`),
		Remedy: RemedyRestart, Advice: "the service needs more memory than mem_limit allows: raise mem_limit"},
	{ID: "missing-config", Match: regexp.MustCompile(`(?i)(config|configuration|settings).*(no such file|not found|missing)|(no such file|not found|missing).*(config|\.ya?ml|\.json|\.toml|\.env)`),
		Remedy: RemedyRecreate, Advice: "a configuration file the service reads is missing: put it back (see the service's volumes) and run recover again"},
}

// RecoverOptions tune Recover.
type RecoverOptions struct {
	// WaitTimeout bounds the wait for a recovered service to be ready;
	// 0 means 2 minutes.
	WaitTimeout time.Duration
	// LogLines is how many recent log lines are matched; 0 means 100.
	LogLines int
}

// Recovered is what recover found and did for one service.
type Recovered struct {
	Service string `json:"service"`
	Problem string `json:"problem"`
	Pattern string `json:"pattern,omitempty"` // the matching Patterns id; "" when none matched
	Remedy  Remedy `json:"remedy"`
	// ResetVolumes are the volumes emptied (only those x-udos.reset_volumes
	// names).
	ResetVolumes []string `json:"reset_volumes,omitempty"`
	OK           bool     `json:"ok"`
	Message      string   `json:"message"`
}

// Recover finds the failed or unhealthy services (all of them, or the one
// named), matches their recent logs against Patterns, applies the remedy
// and waits for them to be ready. It returns what it did; the error is a
// *ServiceError naming the first service it could not bring back.
func (m *Manager) Recover(ctx context.Context, only string, opts RecoverOptions) ([]Recovered, error) {
	if err := m.ping(ctx); err != nil {
		return nil, err
	}
	if only != "" {
		if _, ok := m.Project.Services[only]; !ok {
			return nil, fmt.Errorf("no service %q in %s (services: %v)", only, m.Project.File, m.Project.ServiceNames())
		}
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = 2 * time.Minute
	}
	if opts.LogLines <= 0 {
		opts.LogLines = 100
	}
	order, err := m.Project.Order()
	if err != nil {
		return nil, err
	}
	jobs := m.jobs()
	var out []Recovered
	var firstErr error
	for _, s := range order {
		if (only != "" && s != only) || jobs[s] {
			continue
		}
		o, err := m.observe(ctx, s)
		if err != nil {
			return out, err
		}
		if !o.Exists {
			// Not a failure: the project is down (or was never up).
			m.emit("info", s, "has no container: run `udos-lib wizard up` to start it")
			continue
		}
		problem := m.failure(s, o)
		if problem == "" {
			continue
		}
		r, err := m.recoverOne(ctx, s, o, problem, opts)
		out = append(out, r)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return out, firstErr
}

// recoverOne applies remedies until the service is ready: the one its
// logs call for first, then, when the service fails again, the one its new
// logs call for, or the next stronger one; never the same remedy twice.
func (m *Manager) recoverOne(ctx context.Context, s string, o observed, problem string, opts RecoverOptions) (Recovered, error) {
	r := Recovered{Service: s, Problem: problem}
	ext, err := m.Project.Extension(s)
	if err != nil {
		return r, err
	}
	tried := map[Remedy]bool{}
	var pat *Pattern
	var lastErr error
	for round := 0; round < 3; round++ {
		p := m.matchPattern(ctx, o, opts.LogLines)
		if p != nil {
			pat = p
		}
		remedy := RemedyRestart
		if p != nil {
			remedy = p.Remedy
		}
		if remedy == RemedyResetState && len(ext.ResetVolumes) == 0 {
			// State is never thrown away without the file's consent.
			remedy = RemedyRecreate
		}
		for tried[remedy] {
			next := map[Remedy]Remedy{RemedyRestart: RemedyRecreate, RemedyRecreate: RemedyResetState}[remedy]
			if next == RemedyResetState && len(ext.ResetVolumes) == 0 {
				next = ""
			}
			if next == "" {
				remedy = ""
				break
			}
			remedy = next
		}
		if remedy == "" {
			break
		}
		tried[remedy] = true
		r.Remedy = remedy
		if pat != nil {
			r.Pattern = pat.ID
		}
		if remedy == RemedyResetState {
			r.ResetVolumes = ext.ResetVolumes
		}
		m.emit("info", s, "%s; known failure %q: %s", problem, orNone(r.Pattern), remedy)
		if err := m.audit(AuditEntry{Action: "recover", Service: s, Container: m.containerName(s), Health: o.Health,
			Message: fmt.Sprintf("%s; pattern %s; remedy %s", problem, orNone(r.Pattern), remedy)}); err != nil {
			return r, err
		}
		switch remedy {
		case RemedyRestart:
			lastErr = m.restart(ctx, s, o, "recover: "+problem, 0)
		default:
			var reset []string
			if remedy == RemedyResetState {
				reset = ext.ResetVolumes
			}
			lastErr = m.recreate(ctx, s, o, reset)
		}
		if lastErr == nil {
			lastErr = m.waitReady(ctx, s, opts.WaitTimeout)
		}
		if lastErr == nil {
			r.OK = true
			r.Message = fmt.Sprintf("%s, now ready", remedy)
			m.emit("info", s, "recovered (%s)", remedy)
			return r, m.audit(AuditEntry{Action: "recovered", Service: s, Container: m.containerName(s), Message: string(remedy)})
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if o, err = m.observe(ctx, s); err != nil {
			return r, err
		}
		problem = m.failure(s, o)
		if problem == "" {
			problem = "is not ready"
		}
	}
	se, ok := lastErr.(*ServiceError)
	if !ok {
		reason := "could not be recovered"
		if lastErr != nil {
			reason += ": " + lastErr.Error()
		}
		se = m.serviceError(ctx, s, o, reason)
	}
	if pat != nil {
		se.Reason += "; " + pat.Advice
	}
	r.Message = se.Reason
	m.audit(AuditEntry{Action: "recover-failed", Service: s, Container: m.containerName(s), Message: se.Reason})
	return r, se
}

// matchPattern finds the known failure in the container's recent logs and
// the engine's own error.
func (m *Manager) matchPattern(ctx context.Context, o observed, lines int) *Pattern {
	if o.OOMKilled {
		for i := range Patterns {
			if Patterns[i].ID == "out-of-memory" {
				return &Patterns[i]
			}
		}
	}
	text := strings.Join(m.lastLogs(ctx, o.ID, lines), "\n") + "\n" + o.Error
	// The most recent line that matches decides: earlier lines may be
	// from an older failure.
	ls := strings.Split(text, "\n")
	for i := len(ls) - 1; i >= 0; i-- {
		for j := range Patterns {
			if Patterns[j].Match.MatchString(ls[i]) {
				return &Patterns[j]
			}
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// recreate removes the service's container, empties the named state
// volumes (compose keys), and creates and starts it afresh.
func (m *Manager) recreate(ctx context.Context, s string, o observed, reset []string) error {
	if o.Exists {
		if err := m.removeContainer(ctx, s, o, "recover: recreate"); err != nil {
			return err
		}
	}
	for _, key := range reset {
		if err := m.resetVolume(ctx, key); err != nil {
			return err
		}
	}
	cs, err := m.spec(s)
	if err != nil {
		return err
	}
	return m.ensureService(ctx, s, cs)
}

// resetVolume removes a project volume and creates it empty. Every
// container still using it is in the way and named in the error.
func (m *Manager) resetVolume(ctx context.Context, key string) error {
	name := m.volumeName(key)
	if _, err := m.Engine.VolumeRemove(ctx, name, client.VolumeRemoveOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("resetting volume %s: %w (stop the containers using it first)", name, err)
	}
	m.emit("warn", "", "reset volume %s (its data is gone)", name)
	if err := m.audit(AuditEntry{Action: "volume-reset", Message: name}); err != nil {
		return err
	}
	return m.ensureVolume(ctx, key)
}

// waitReady waits until the service is running and (with a health check)
// healthy; an exit or an unhealthy verdict ends the wait early.
func (m *Manager) waitReady(ctx context.Context, s string, timeout time.Duration) error {
	deadline := m.clock().Now().Add(timeout)
	for {
		o, err := m.observe(ctx, s)
		if err != nil {
			return err
		}
		switch {
		case o.ready(m.hasHealth(s)):
			return nil
		case o.Exists && !o.Running && (o.Status == "exited" || o.Status == "dead"):
			return m.serviceError(ctx, s, o, fmt.Sprintf("exited with code %d again", o.ExitCode))
		case o.Health == "unhealthy":
			return m.serviceError(ctx, s, o, "is unhealthy again")
		case !m.clock().Now().Before(deadline):
			return m.serviceError(ctx, s, o, fmt.Sprintf("is not ready after %s", timeout))
		}
		if err := m.sleep(ctx, m.poll()); err != nil {
			return err
		}
	}
}
