package pipe

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type skipStep struct {
	name   string
	skip   bool
	reason string
	ran    *[]string
}

func (s skipStep) String() string { return s.name }
func (s skipStep) Run(_ context.Context, _ *Context) error {
	*s.ran = append(*s.ran, s.name)
	return nil
}
func (s skipStep) Skip(*Context) (bool, string) { return s.skip, s.reason }

func fakeClock() func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(1500 * time.Millisecond); return t }
}

func TestRun(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name      string
		steps     func(ran *[]string) []Step
		wantRan   []string
		wantErr   error
		wantStep  string
		wantLog   []string
		wantState []Status
	}{
		{
			name: "all ok in order",
			steps: func(ran *[]string) []Step {
				return []Step{
					Func("layout", func(context.Context, *Context) error { *ran = append(*ran, "layout"); return nil }),
					Func("archive", func(context.Context, *Context) error { *ran = append(*ran, "archive"); return nil }),
				}
			},
			wantRan:   []string{"layout", "archive"},
			wantLog:   []string{"• layout", "  layout done in 1.5s", "• archive", "  archive done in 1.5s"},
			wantState: []Status{StatusOK, StatusOK},
		},
		{
			name: "skipper skips with reason",
			steps: func(ran *[]string) []Step {
				return []Step{
					skipStep{name: "sign", skip: true, reason: "no signing key", ran: ran},
					skipStep{name: "sbom", ran: ran},
				}
			},
			wantRan:   []string{"sbom"},
			wantLog:   []string{"• sign skipped: no signing key", "• sbom", "  sbom done"},
			wantState: []Status{StatusSkipped, StatusOK},
		},
		{
			name: "error stops and names the step",
			steps: func(ran *[]string) []Step {
				return []Step{
					Func("checksum", func(context.Context, *Context) error { return boom }),
					Func("upload", func(context.Context, *Context) error { *ran = append(*ran, "upload"); return nil }),
				}
			},
			wantErr:   boom,
			wantStep:  "checksum",
			wantLog:   []string{"  checksum failed after 1.5s: boom"},
			wantState: []Status{StatusFailed},
		},
		{
			name: "ErrSkip from Run is a skip",
			steps: func(ran *[]string) []Step {
				return []Step{
					Func("homebrew", func(context.Context, *Context) error { return Skip("not core-slim") }),
					Func("upload", func(context.Context, *Context) error { *ran = append(*ran, "upload"); return nil }),
				}
			},
			wantRan:   []string{"upload"},
			wantLog:   []string{"homebrew skipped: step skipped: not core-slim"},
			wantState: []Status{StatusSkipped, StatusOK},
		},
		{
			name: "panic becomes an error",
			steps: func(ran *[]string) []Step {
				return []Step{Func("manifest", func(context.Context, *Context) error { panic("nil map") })}
			},
			wantStep:  "manifest",
			wantLog:   []string{"manifest failed after 1.5s: panic: nil map"},
			wantState: []Status{StatusFailed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ran []string
			var log bytes.Buffer
			c := &Context{Log: &log, Now: fakeClock()}
			err := Run(context.Background(), c, tt.steps(&ran)...)
			if tt.wantStep == "" && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.wantStep != "" {
				var se *StepError
				if !errors.As(err, &se) || se.Step != tt.wantStep {
					t.Fatalf("err = %v, want StepError for %q", err, tt.wantStep)
				}
				if !strings.HasPrefix(err.Error(), tt.wantStep+": ") {
					t.Errorf("error %q does not start with step name", err)
				}
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want wrapping %v", err, tt.wantErr)
			}
			if strings.Join(ran, ",") != strings.Join(tt.wantRan, ",") {
				t.Errorf("ran %v, want %v", ran, tt.wantRan)
			}
			for _, l := range tt.wantLog {
				if !strings.Contains(log.String(), l) {
					t.Errorf("log lacks %q:\n%s", l, log.String())
				}
			}
			res := c.Results()
			if len(res) != len(tt.wantState) {
				t.Fatalf("results %+v, want %d", res, len(tt.wantState))
			}
			for i, st := range tt.wantState {
				if res[i].Status != st {
					t.Errorf("result %d = %+v, want %s", i, res[i], st)
				}
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := &Context{}
	err := Run(ctx, c, Func("layout", func(context.Context, *Context) error { t.Error("ran"); return nil }))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRunNilContext(t *testing.T) {
	t.Parallel()
	if err := Run(context.Background(), nil); err == nil {
		t.Fatal("want error for nil Context")
	}
}
