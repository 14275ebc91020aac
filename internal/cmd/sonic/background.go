package sonic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fredbook/udos-dist/internal/atomicfile"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
)

// A background update is the same `sonic update` run again in its own
// session (setsid), with its output in a log and its progress in a status
// file beside the image, so that a large download (the seed: > 500 MB)
// goes on without the terminal and `--status` can tell how far it is.
// The job is the only writer of the status file; the command that starts
// it waits for the job's first status, so it never reports a job that
// did not start.
const (
	jobStatusName = ".udos-sonic-update.json"
	jobLogName    = "udos-sonic-update.log"
	// jobEnv names the status file in the job's environment: its presence
	// makes `sonic update` the job.
	jobEnv = "UDOS_SONIC_UPDATE_JOB"
	// largeImage is the size above which a terminal user is told of
	// --background.
	largeImage = 500 << 20
)

// jobStatus is the status file (and --status --json's document).
type jobStatus struct {
	State   string    `json:"state"` // running, done, failed; interrupted when its process is gone
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	Version string    `json:"version,omitempty"`
	Done    int64     `json:"done_bytes"`
	Total   int64     `json:"total_bytes"`
	Result  string    `json:"result,omitempty"` // what the update printed: the image's path or the slot
	Error   string    `json:"error,omitempty"`
	Log     string    `json:"log"`
	// Report is the update's --json document, when the job was run with --json.
	Report json.RawMessage `json:"report,omitempty"`
}

// job is the running background update's side of the status file.
type job struct {
	path string
	mu   sync.Mutex
	st   jobStatus
	last time.Time
}

func startJob(path string) (*job, error) {
	now := time.Now().UTC()
	j := &job{path: path, st: jobStatus{State: "running", PID: os.Getpid(), Started: now,
		Log: filepath.Join(filepath.Dir(path), jobLogName)}}
	return j, j.write(now)
}

func (j *job) write(now time.Time) error {
	j.st.Updated = now
	b, err := json.MarshalIndent(j.st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(j.path, append(b, '\n'), 0o600)
}

// progress records bytes placed, at most twice a second.
func (j *job) progress(version string, done, total int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.st.Version, j.st.Done, j.st.Total = version, done, total
	if now := time.Now(); now.Sub(j.last) >= 500*time.Millisecond || done == total {
		j.last = now
		j.write(now.UTC()) // a missed update is made good by the next
	}
}

func (j *job) finish(stdout []byte, asJSON bool, err error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.st.State = "done"
	if out := bytes.TrimSpace(stdout); asJSON && json.Valid(out) {
		j.st.Report = out
	} else if lines := strings.Split(string(out), "\n"); len(out) > 0 {
		j.st.Result = lines[len(lines)-1]
	}
	switch {
	case errors.Is(err, context.Canceled):
		// Stopped (SIGTERM, a shutdown): the download resumes next time.
		j.st.State, j.st.Error = "interrupted", err.Error()
	case err != nil:
		j.st.State, j.st.Error = "failed", err.Error()
	}
	return j.write(time.Now().UTC())
}

// runJob is `sonic update` as the background job: the update itself, its
// progress and outcome in the status file.
func runJob(f *factory.Factory, o *updateOpts, path string) error {
	j, err := startJob(path)
	if err != nil {
		return fmt.Errorf("the background status %s: %w", path, err)
	}
	var out bytes.Buffer
	f.IO.Out = io.MultiWriter(f.IO.Out, &out)
	o.progress = j.progress
	err = runUpdate(f, o)
	if ferr := j.finish(out.Bytes(), f.Global.JSON, err); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// readJob reads DIR's status; a running job whose process is gone is
// "interrupted".
func readJob(dir string) (jobStatus, error) {
	var st jobStatus
	b, err := os.ReadFile(filepath.Join(dir, jobStatusName))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(dir, jobStatusName), err)
	}
	if st.State == "running" && !alive(st.PID) {
		st.State = "interrupted"
	}
	return st, nil
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// background starts the job and returns once it has written its first
// status (or has failed to start, with its log).
func background(f *factory.Factory, o *updateOpts, args []string) error {
	if o.check || o.reboot {
		return cmdutil.Usagef("sonic update: --background goes with a download, not with --check or --reboot")
	}
	dir, err := filepath.Abs(o.output)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("the output folder: %w", err)
	}
	if st, err := readJob(dir); err == nil && st.State == "running" {
		return fmt.Errorf("a background update is already running in %s (pid %d): see 'udos-lib sonic update --status --output %s'", dir, st.PID, o.output)
	}
	status := filepath.Join(dir, jobStatusName)
	if err := os.Remove(status); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	logPath := filepath.Join(dir, jobLogName)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("the background log: %w", err)
	}
	defer logf.Close()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding udos-lib to run in the background: %w", err)
	}
	var jobArgs []string
	for _, a := range args {
		if a != "--background" && !strings.HasPrefix(a, "--background=") {
			jobArgs = append(jobArgs, a)
		}
	}
	// argv[0] as this process got it: a multi-call binary dispatches on it.
	cmd := &exec.Cmd{Path: exe, Args: append([]string{os.Args[0]}, jobArgs...),
		Env: append(os.Environ(), jobEnv+"="+status), Stdout: logf, Stderr: logf,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the background update: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// started reports the job once its status names it: the pid on
	// stdout (the status document with --json).
	started := func(format string) (bool, error) {
		st, err := readJob(dir)
		if err != nil || st.PID != cmd.Process.Pid {
			return false, nil
		}
		fmt.Fprintf(f.IO.ErrOut, format, st.PID, o.output, logPath)
		if f.Global.JSON {
			return true, cmdutil.WriteJSON(f.IO.Out, st)
		}
		_, err = fmt.Fprintln(f.IO.Out, st.PID)
		return true, err
	}
	for {
		if ok, err := started("Updating in the background (pid %d); 'udos-lib sonic update --status --output %s' shows how far it is. Log: %s\n"); ok {
			return err
		}
		select {
		case err := <-exited:
			// A job that ended at once (a refused manifest) still wrote
			// its status first: report it like any other.
			if ok, err := started("The background update (pid %d) has already ended: 'udos-lib sonic update --status --output %s' tells how. Log: %s\n"); ok {
				return err
			}
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("the background update ended before it started (%v):\n%s", err, strings.TrimSpace(string(b)))
		case <-f.Ctx.Done():
			cmd.Process.Kill()
			return f.Ctx.Err()
		case <-tick.C:
		}
	}
}

// showJob is --status: the state on stdout, the rest on stderr; exit 1
// when the job failed or was interrupted.
func showJob(f *factory.Factory, o *updateOpts) error {
	st, err := readJob(o.output)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no background update in %s (start one with --background)", o.output)
	}
	if err != nil {
		return err
	}
	if f.Global.JSON {
		if err := cmdutil.WriteJSON(f.IO.Out, st); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(f.IO.Out, st.State)
	}
	pct := ""
	if st.Total > 0 {
		pct = fmt.Sprintf(", %d of %d bytes (%.0f %%)", st.Done, st.Total, 100*float64(st.Done)/float64(st.Total))
	}
	what := "Sonic " + st.Version
	if st.Version == "" {
		what = "the release check"
	}
	switch st.State {
	case "running":
		fmt.Fprintf(f.IO.ErrOut, "Background update (pid %d): %s%s, last news %s.\n", st.PID, what, pct, st.Updated.Format(time.RFC3339))
	case "done":
		fmt.Fprintf(f.IO.ErrOut, "Background update finished %s: %s.\n", st.Updated.Format(time.RFC3339), st.Result)
	case "failed":
		fmt.Fprintf(f.IO.ErrOut, "Background update failed: %s (log: %s).\n", st.Error, st.Log)
		return cmdutil.ErrSilent
	default:
		fmt.Fprintf(f.IO.ErrOut, "Background update (pid %d) stopped before it finished (%s%s): run the same 'sonic update' again; the download resumes (log: %s).\n", st.PID, what, pct, st.Log)
		return cmdutil.ErrSilent
	}
	return nil
}
