package wizard

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestPatterns: each known failure is recognised from a log line the
// real programs print.
func TestPatterns(t *testing.T) {
	for _, c := range []struct{ log, want string }{
		{"OSError: [Errno 98] error while attempting to bind on address ('0.0.0.0', 8765): address already in use", "port-in-use"},
		{"Bind for 127.0.0.1:9000 failed: port is already allocated", "port-in-use"},
		{"fatal: state folder: open /data/boot.log: permission denied", "volume-permission"},
		{"PermissionError: [Errno 13] Permission denied: '/app/memory/wizard.db'", "volume-permission"},
		{"MemoryError", "out-of-memory"},
		{"fatal: reading config: open /cfg/app.json: no such file or directory", "missing-config"},
		{"FileNotFoundError: [Errno 2] No such file or directory: 'wizard/config/wizard.json'", "missing-config"},
		{"Traceback: ZeroDivisionError", ""},
	} {
		got := ""
		for _, p := range Patterns {
			if p.Match.MatchString(c.log) {
				got = p.ID
				break
			}
		}
		if got != c.want {
			t.Errorf("%q: pattern %q, want %q", c.log, got, c.want)
		}
	}
}

// TestRecover: two services whose state folder turned unwritable. The one
// whose compose entry allows it gets its state volume reset and comes
// back; the other is recreated, still fails, and recover names it with
// the advice of the pattern. A missing config file is recreated and, still
// missing, reported the same way.
func TestRecover(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(
		r.service("resettable", []string{"serve", "--state", "/data"}, "    volumes: [data:/data]", "    x-udos: {reset_volumes: [data]}"),
		r.service("precious", []string{"serve", "--state", "/data"}, "    volumes: [cache:/data]"),
	)
	if err := r.up(time.Minute); err != nil {
		t.Fatal(err)
	}
	r.fault("resettable", "break-state")
	r.fault("precious", "break-state")
	waitFor(t, 30*time.Second, "both crashed", func() bool {
		return !r.observe("resettable").Running && !r.observe("precious").Running
	})
	ctx := context.Background()
	res, err := r.m.Recover(ctx, "", RecoverOptions{WaitTimeout: 30 * time.Second})
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != "precious" {
		t.Fatalf("recover: %v (%+v)", err, res)
	}
	if !strings.Contains(se.Reason, "x-udos.reset_volumes") || !strings.Contains(strings.Join(se.Logs, "\n"), "permission denied") {
		t.Errorf("error lacks advice or logs: %v", err)
	}
	if len(res) != 2 {
		t.Fatalf("results %+v", res)
	}
	byName := map[string]Recovered{}
	for _, x := range res {
		byName[x.Service] = x
	}
	if x := byName["resettable"]; !x.OK || x.Pattern != "volume-permission" || x.Remedy != RemedyResetState || len(x.ResetVolumes) != 1 {
		t.Errorf("resettable: %+v", x)
	}
	if x := byName["precious"]; x.OK || x.Remedy != RemedyRecreate || len(x.ResetVolumes) != 0 {
		t.Errorf("precious: %+v", x)
	}
	if o := r.observe("resettable"); !o.ready(true) {
		t.Errorf("resettable not healthy: %+v", o)
	}
	var resets []string
	for _, e := range r.audit() {
		if e.Action == "volume-reset" {
			resets = append(resets, e.Message)
		}
	}
	if len(resets) != 1 || resets[0] != r.m.volumeName("data") {
		t.Errorf("volume resets %v", resets)
	}
}

// TestRecoverMissingConfig: the config file a service needs is missing;
// recover recreates it, the service still fails, and the error says what
// to do.
func TestRecoverMissingConfig(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.project(r.service("app", []string{"serve", "--config", "/data/app.json"}, "    volumes: [data:/data]"))
	if err := r.up(30 * time.Second); err == nil {
		t.Fatal("up succeeded without the config")
	}
	_, err := r.m.Recover(context.Background(), "app", RecoverOptions{WaitTimeout: 20 * time.Second})
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != "app" || !strings.Contains(se.Reason, "configuration file") {
		t.Fatalf("recover: %v", err)
	}
	if _, err := r.m.Recover(context.Background(), "nope", RecoverOptions{}); err == nil || !strings.Contains(err.Error(), `no service "nope"`) {
		t.Errorf("unknown service: %v", err)
	}
}
