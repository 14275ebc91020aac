package ghreplica

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultKind says how an injected fault answers.
type FaultKind int

const (
	// NoFault marks a request log entry that was served normally.
	NoFault FaultKind = iota
	// Status5xx answers Fault.Status (default 500) with GitHub's error body.
	Status5xx
	// Status429 answers a secondary rate limit: Fault.Status (default 429)
	// with Retry-After (Fault.RetryAfter, default 1s).
	Status429
	// PrimaryRateLimit answers as if the primary limit were exhausted:
	// Fault.Status (default 403), x-ratelimit-remaining 0 and a reset
	// Fault.RetryAfter (default 1s) from now.
	PrimaryRateLimit
	// DropConnection closes the connection without an answer.
	DropConnection
	// Stall holds the request for Fault.Delay (default 30s) or until the
	// client gives up, then serves it normally.
	Stall
	// HalfUpload502 reads half of an upload, leaves a "starter" asset
	// behind under that name and answers 502, as GitHub does when an
	// upload breaks. On other requests it behaves like Status5xx with 502.
	HalfUpload502
	// LostResponse performs the request, then closes the connection
	// instead of answering: the client cannot tell whether it happened.
	LostResponse
)

func (k FaultKind) String() string {
	switch k {
	case NoFault:
		return "none"
	case Status5xx:
		return "5xx"
	case Status429:
		return "429"
	case PrimaryRateLimit:
		return "primary-rate-limit"
	case DropConnection:
		return "drop-connection"
	case Stall:
		return "stall"
	case HalfUpload502:
		return "half-upload-502"
	case LostResponse:
		return "lost-response"
	}
	return "unknown"
}

// Fault is a failure to inject into matching requests.
type Fault struct {
	// Method matches the request method; empty matches any.
	Method string
	// PathPrefix matches the request path, with or without its /api/v3 or
	// /api/uploads prefix; empty matches any.
	PathPrefix string
	// Times is how many matching requests fail: 0 means once, a negative
	// number means every matching request until ClearFaults.
	Times int
	Kind  FaultKind
	// Status overrides the answer's status code.
	Status int
	// RetryAfter is the wait announced by Status429 and PrimaryRateLimit.
	RetryAfter time.Duration
	// Delay is how long Stall holds a request.
	Delay time.Duration
}

type faultState struct {
	Fault
	left int // remaining uses; <0 unlimited
}

// Inject adds a fault. Faults are matched in the order they were added; a
// request triggers at most one.
func (r *Replica) Inject(f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	left := f.Times
	if left == 0 {
		left = 1
	}
	r.faults = append(r.faults, &faultState{Fault: f, left: left})
}

// ClearFaults removes every pending fault.
func (r *Replica) ClearFaults() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = nil
}

// PendingFaults reports how many injected faults have uses left.
func (r *Replica) PendingFaults() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.faults {
		if f.left != 0 {
			n++
		}
	}
	return n
}

// takeFault finds and consumes the first fault matching req. Callers hold r.mu.
func (r *Replica) takeFault(req *http.Request) *Fault {
	for _, f := range r.faults {
		if f.left == 0 {
			continue
		}
		if f.Method != "" && !strings.EqualFold(f.Method, req.Method) {
			continue
		}
		if f.PathPrefix != "" && !strings.HasPrefix(req.URL.Path, f.PathPrefix) && !strings.HasPrefix(apiPath(req.URL.Path), f.PathPrefix) {
			continue
		}
		if f.left > 0 {
			f.left--
		}
		out := f.Fault
		return &out
	}
	return nil
}

// writeFault answers a request with an injected fault's status, with the
// rate-limit headers and body GitHub sends for that kind.
func (r *Replica) writeFault(w http.ResponseWriter, req *http.Request, f *Fault, def int) {
	status := f.Status
	if status == 0 {
		status = def
	}
	wait := f.RetryAfter
	if wait <= 0 {
		wait = time.Second
	}
	r.mu.Lock()
	now := r.now()
	login := r.loginFor(req)
	limit := r.limitFor(login)
	win := r.windowLocked(identity(login), now)
	used := win.used
	reset := win.reset
	r.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	var body map[string]string
	switch f.Kind {
	case Status429:
		setRateHeaders(h, limit, used, reset)
		h.Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		body = map[string]string{"message": secondaryMessage, "documentation_url": docSecondary}
	case PrimaryRateLimit:
		setRateHeaders(h, limit, limit, now.Add(wait))
		body = map[string]string{"message": primaryMessage(login), "documentation_url": docPrimaryLimit}
	default:
		body = map[string]string{"message": http.StatusText(status)}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
