package ghreplica

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Control endpoints under /_replica/ let out-of-process tests (act runs
// against cmd/gh-replica) inspect and steer the replica. They are not
// logged and cost no rate limit:
//
//	GET    /_replica/state   repositories, releases and assets (without bytes), dispatches
//	GET    /_replica/requests the request log
//	POST   /_replica/faults  inject a fault: {"kind":"5xx","method":"POST","path_prefix":"/api/uploads/","times":1,
//	                          "status":502,"retry_after_seconds":1,"delay_ms":0}
//	DELETE /_replica/faults  clear pending faults
const adminPrefix = "/_replica/"

// State is the replica's content as served by GET /_replica/state.
type State struct {
	Repos      []RepoState `json:"repos"`
	Dispatches []Dispatch  `json:"dispatches"`
}

// RepoState is one repository in a State.
type RepoState struct {
	Owner    string    `json:"owner"`
	Name     string    `json:"name"`
	Private  bool      `json:"private"`
	Archived bool      `json:"archived,omitempty"`
	Releases []Release `json:"releases"`
}

// Snapshot returns the replica's content.
func (r *Replica) Snapshot() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := State{Dispatches: append([]Dispatch{}, r.dispatches...)}
	for _, rp := range r.repos {
		rs := RepoState{Owner: rp.owner.login, Name: rp.name, Private: rp.spec.Private, Archived: rp.spec.Archived, Releases: []Release{}}
		for _, rel := range sortedReleases(rp.releases) {
			rs.Releases = append(rs.Releases, rel.snapshot())
		}
		st.Repos = append(st.Repos, rs)
	}
	sort.Slice(st.Repos, func(i, j int) bool {
		return strings.ToLower(st.Repos[i].Owner+"/"+st.Repos[i].Name) < strings.ToLower(st.Repos[j].Owner+"/"+st.Repos[j].Name)
	})
	return st
}

var faultNames = map[string]FaultKind{}

func init() {
	for k := Status5xx; k <= LostResponse; k++ {
		faultNames[k.String()] = k
	}
}

// MarshalText names the kind ("5xx", "429", "primary-rate-limit",
// "drop-connection", "stall", "half-upload-502", "lost-response").
func (k FaultKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a kind name.
func (k *FaultKind) UnmarshalText(b []byte) error {
	v, ok := faultNames[string(b)]
	if !ok && string(b) != "none" {
		return fmt.Errorf("unknown fault kind %q", b)
	}
	*k = v
	return nil
}

type faultRequest struct {
	Kind              FaultKind `json:"kind"`
	Method            string    `json:"method"`
	PathPrefix        string    `json:"path_prefix"`
	Times             int       `json:"times"`
	Status            int       `json:"status"`
	RetryAfterSeconds float64   `json:"retry_after_seconds"`
	DelayMS           int       `json:"delay_ms"`
}

// serveAdmin serves the control endpoints. They are not GitHub's, but
// answer GitHub's way: JSON, and 404 for anything else.
func (r *Replica) serveAdmin(w http.ResponseWriter, req *http.Request) {
	if !isClean(req.URL.Path) {
		adminNotFound(w, req)
		return
	}
	r.hosts.admin.ServeHTTP(w, req)
}

func (r *Replica) adminRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+adminPrefix+"state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, nil, r.Snapshot())
	})
	mux.HandleFunc("GET "+adminPrefix+"requests", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, nil, r.Requests())
	})
	mux.HandleFunc("DELETE "+adminPrefix+"faults", func(w http.ResponseWriter, _ *http.Request) {
		r.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+adminPrefix+"faults", r.injectOverHTTP)
	mux.HandleFunc(adminPrefix, adminNotFound)
	return mux
}

func adminNotFound(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusNotFound, nil, errBody("Not Found", ""))
}

func (r *Replica) injectOverHTTP(w http.ResponseWriter, req *http.Request) {
	var in faultRequest
	dec := json.NewDecoder(req.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Kind == NoFault {
		msg := "a fault needs a kind"
		if err != nil {
			msg = err.Error()
		}
		writeJSON(w, http.StatusBadRequest, nil, errBody(msg, ""))
		return
	}
	r.Inject(Fault{Kind: in.Kind, Method: in.Method, PathPrefix: in.PathPrefix, Times: in.Times, Status: in.Status,
		RetryAfter: time.Duration(in.RetryAfterSeconds * float64(time.Second)), Delay: time.Duration(in.DelayMS) * time.Millisecond})
	w.WriteHeader(http.StatusNoContent)
}
