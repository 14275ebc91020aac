// Package pipe runs a release as a sequence of small named steps, in the
// manner of GoReleaser's pipes: each step does one thing, may decide to skip
// itself, is logged and timed, and any error it returns is wrapped with the
// step's name so that a failed release says where it failed.
package pipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Step is one named unit of work of a pipeline.
type Step interface {
	// String names the step in logs, summaries and errors ("archive", "sign").
	String() string
	// Run does the step's work, reading and extending the shared Context.
	Run(ctx context.Context, c *Context) error
}

// Skipper is implemented by steps that are not always needed (no signing key,
// upload disabled). When Skip reports true the step is not run and the reason
// is logged.
type Skipper interface {
	Skip(c *Context) (skip bool, reason string)
}

// ErrSkip may be returned (possibly wrapped) by a step's Run to say, after
// having looked at the work, that there was nothing to do. The runner records
// the step as skipped rather than failed.
var ErrSkip = errors.New("step skipped")

// Skip returns an error wrapping ErrSkip with a reason.
func Skip(reason string) error { return fmt.Errorf("%w: %s", ErrSkip, reason) }

// Context is what steps share. Values is free-form storage for the consumer
// of the pipeline (a release under construction, the artifacts so far); the
// runner itself only uses Log and Now.
type Context struct {
	// Log receives one line per step event. nil discards.
	Log io.Writer
	// Now is the clock used for timings. nil means time.Now.
	Now func() time.Time
	// Values is the pipeline's own state, owned by its steps.
	Values any

	mu      sync.Mutex
	results []Result
}

// Status is the outcome of one step.
type Status string

// The outcomes a step can have.
const (
	StatusOK      Status = "ok"
	StatusSkipped Status = "skipped"
	StatusFailed  Status = "failed"
)

// Result records what happened to one step.
type Result struct {
	Step     string
	Status   Status
	Reason   string // why it was skipped, or the error text when it failed
	Duration time.Duration
}

// Results returns the outcome of every step run so far, in order.
func (c *Context) Results() []Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Result(nil), c.results...)
}

func (c *Context) record(r Result) {
	c.mu.Lock()
	c.results = append(c.results, r)
	c.mu.Unlock()
}

func (c *Context) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Context) logf(format string, args ...any) {
	if c.Log == nil {
		return
	}
	fmt.Fprintf(c.Log, format+"\n", args...)
}

// StepError is returned by Run when a step fails; it names the step.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("%s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// Run runs the steps in order, stopping at the first failure or when ctx is
// cancelled. Each step is logged ("• name", then "  name done in 1.2s" or
// "  name skipped: reason") and timed; its outcome is appended to
// c.Results(). A failure is returned as a *StepError.
func Run(ctx context.Context, c *Context, steps ...Step) error {
	if c == nil {
		return errors.New("pipe: nil Context")
	}
	for _, s := range steps {
		name := s.String()
		if err := ctx.Err(); err != nil {
			c.record(Result{Step: name, Status: StatusFailed, Reason: err.Error()})
			return &StepError{Step: name, Err: err}
		}
		if sk, ok := s.(Skipper); ok {
			if skip, reason := sk.Skip(c); skip {
				c.logf("• %s skipped: %s", name, reason)
				c.record(Result{Step: name, Status: StatusSkipped, Reason: reason})
				continue
			}
		}
		c.logf("• %s", name)
		start := c.now()
		err := runOne(ctx, c, s)
		d := c.now().Sub(start)
		switch {
		case err == nil:
			c.logf("  %s done in %s", name, round(d))
			c.record(Result{Step: name, Status: StatusOK, Duration: d})
		case errors.Is(err, ErrSkip):
			reason := err.Error()
			c.logf("  %s skipped: %s", name, reason)
			c.record(Result{Step: name, Status: StatusSkipped, Reason: reason, Duration: d})
		default:
			c.logf("  %s failed after %s: %v", name, round(d), err)
			c.record(Result{Step: name, Status: StatusFailed, Reason: err.Error(), Duration: d})
			return &StepError{Step: name, Err: err}
		}
	}
	return nil
}

// runOne turns a panicking step into an error naming it, so that one broken
// step cannot take the whole action down without saying which it was.
func runOne(ctx context.Context, c *Context, s Step) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return s.Run(ctx, c)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// Func adapts a function to a Step with the given name.
func Func(name string, run func(ctx context.Context, c *Context) error) Step {
	return funcStep{name: name, run: run}
}

type funcStep struct {
	name string
	run  func(ctx context.Context, c *Context) error
}

func (f funcStep) String() string                            { return f.name }
func (f funcStep) Run(ctx context.Context, c *Context) error { return f.run(ctx, c) }
