package sonic

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/bridge/server"
	"github.com/fredbook/udos-dist/internal/bridge/statesync"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
	"github.com/fredbook/udos-dist/internal/cmd/factory"
)

func newSync(f *factory.Factory) *cobra.Command {
	var stateDir string
	var timeout time.Duration
	c := envCmd(f, &cobra.Command{
		Use:   "sync HOST [--state DIR]",
		Short: "Push this Sonic's state to a trusted host (resumable; each sync a new version there)",
		Args:  cmdutil.ExactArgs(1, "give one HOST"),
	}, func(e *env, args []string) error { return e.sync(args[0], stateDir, timeout) })
	c.Flags().StringVar(&stateDir, "state", "", "the state `DIR` to push (default <root>/memory)")
	timeoutFlag(c, &timeout)
	return c
}

func (e *env) defaultState() string { return filepath.Join(filepath.Dir(e.paths.Dir), "memory") }

func (e *env) sync(arg, stateDir string, timeout time.Duration) error {
	ctx := e.f.Ctx
	if stateDir == "" {
		stateDir = e.defaultState()
	}
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return fmt.Errorf("state folder %s: not a folder (pass --state DIR)", abs)
	}
	t, err := resolve(ctx, arg, timeout)
	if err != nil {
		return err
	}
	key := hostauth.HostPattern(t.Name, t.Port)
	j := statesync.Journal{File: e.paths.Journal()}
	entries, err := j.Load()
	if err != nil {
		return err
	}
	prev := entries[key]
	m, err := statesync.ScanCache{File: e.paths.ScanCache()}.Scan(abs)
	if err != nil {
		return err
	}
	c, err := e.dial(ctx, t)
	if err != nil {
		return err
	}
	defer c.Close()
	// The journal says a sync is under way before anything is sent: if the
	// link or the power goes, status shows it and the next sync resumes.
	if err := j.Update(key, func(h *statesync.HostEntry) {
		h.Pending = &statesync.Pending{ManifestID: m.ID(), Started: e.f.Now().UTC(), Files: len(m.Files), Bytes: m.Size()}
		h.StateDir = abs
	}); err != nil {
		return err
	}
	stream, err := c.Subsystem(server.SyncSubsystem)
	if err != nil {
		return err
	}
	defer stream.Close()
	if prev.Pending != nil {
		fmt.Fprintf(e.f.IO.ErrOut, "resuming the sync to %s started %s\n", t.Name, prev.Pending.Started.Format(time.RFC3339))
	}
	res, err := statesync.Push(ctx, stream, abs, m, prev.Base, nil)
	switch {
	case errors.Is(err, statesync.ErrConflict):
		_ = j.Update(key, func(h *statesync.HostEntry) { h.Pending, h.Conflict = nil, res.Conflict })
		return err
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-c.Done():
			err = fmt.Errorf("%w: the host keeps its last complete version; run 'udos-lib sonic sync %s' again to resume (what arrived is not sent again)", errLost(err), arg)
		default:
		}
		return err
	}
	if err := j.Update(key, func(h *statesync.HostEntry) {
		h.Base, h.ManifestID, h.LastSync, h.Pending, h.Conflict = res.Version, m.ID(), e.f.Now().UTC(), nil, ""
	}); err != nil {
		return err
	}
	if e.f.Global.JSON {
		return cmdutil.WriteJSON(e.f.IO.Out, res)
	}
	if res.Unchanged {
		fmt.Fprintf(e.f.IO.ErrOut, "%s already has this state (version %d)\n", t.Name, res.Version)
	} else {
		fmt.Fprintf(e.f.IO.ErrOut, "synced %d files (%d bytes) to %s as version %d: %d chunks (%d bytes) sent\n", res.Files, res.Bytes, t.Name, res.Version, res.Sent, res.SentBytes)
	}
	return nil
}

func errLost(err error) error {
	return fmt.Errorf("the sync was cut off (%v)", err)
}
