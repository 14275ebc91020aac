package sonic

import (
	"fmt"
	"sort"
	"time"

	"github.com/fredbook/udos-dist/internal/bridge/hostauth"
	"github.com/fredbook/udos-dist/internal/bridge/statesync"
	"github.com/fredbook/udos-dist/internal/cmd/cmdutil"
)

type hostStatus struct {
	Hosts       []string   `json:"hosts"`
	Fingerprint string     `json:"fingerprint"`
	Version     int        `json:"synced_version"`
	LastSync    *time.Time `json:"last_sync"`
	// Pending is a sync that started and did not finish.
	Pending  *statesync.Pending `json:"interrupted_sync,omitempty"`
	Conflict string             `json:"conflict,omitempty"`
	// Changed says the state differs from what was last synced.
	Changed bool `json:"changed_since_sync"`
}

func (e *env) status() error {
	pins, err := e.kh.Hosts()
	if err != nil {
		return err
	}
	journal, err := statesync.Journal{File: e.paths.Journal()}.Load()
	if err != nil {
		return err
	}
	ids := map[string]string{} // state dir → manifest id, scanned once
	rows := []hostStatus{}
	for _, p := range pins {
		r := hostStatus{Hosts: p.Hosts, Fingerprint: p.Fingerprint}
		for _, h := range p.Hosts {
			j, ok := journal[h]
			if !ok {
				continue
			}
			r.Version, r.Pending, r.Conflict = j.Base, j.Pending, j.Conflict
			if !j.LastSync.IsZero() {
				t := j.LastSync
				r.LastSync = &t
			}
			dir := j.StateDir
			if dir == "" {
				dir = e.defaultState()
			}
			if _, seen := ids[dir]; !seen {
				// An unreadable state counts as changed.
				if m, err := (statesync.ScanCache{File: e.paths.ScanCache()}).Scan(dir); err == nil {
					ids[dir] = m.ID()
				} else {
					ids[dir] = ""
				}
			}
			r.Changed = j.ManifestID == "" || ids[dir] != j.ManifestID
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Hosts[0] < rows[j].Hosts[0] })
	key := hostauth.Fingerprint(e.key.PublicKey())
	if e.f.Global.JSON {
		return cmdutil.WriteJSON(e.f.IO.Out, map[string]any{"client_key": key, "hosts": rows})
	}
	out := e.f.IO.Out
	fmt.Fprintf(out, "client key %s\n", key)
	for _, r := range rows {
		last := "never synced"
		if r.LastSync != nil {
			last = fmt.Sprintf("version %d synced %s", r.Version, r.LastSync.Format(time.RFC3339))
		}
		fmt.Fprintf(out, "%s\t%s\t%s", r.Hosts[0], r.Fingerprint, last)
		if r.Changed && r.LastSync != nil {
			fmt.Fprint(out, "\tstate changed since")
		}
		if r.Pending != nil {
			fmt.Fprintf(out, "\tinterrupted sync since %s (run sonic sync to resume)", r.Pending.Started.Format(time.RFC3339))
		}
		if r.Conflict != "" {
			fmt.Fprintf(out, "\tconflict kept on the host as %s", r.Conflict)
		}
		fmt.Fprintln(out)
	}
	return nil
}
