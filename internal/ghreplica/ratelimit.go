package ghreplica

import (
	"net/http"
	"strconv"
	"time"
)

// Rate limits: the primary hourly limit per token (or per address when
// anonymous), the secondary limit on content-creating requests, their
// x-ratelimit-* headers and GET /rate_limit.

const (
	secondaryMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
	docPrimaryLimit  = docsBase + "/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
	docSecondary     = docsBase + "/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)

func primaryMessage(login string) string {
	if login == "" {
		return "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)"
	}
	return "API rate limit exceeded for user " + login + "."
}

func setRateHeaders(h http.Header, limit, used int, reset time.Time) {
	remaining := limit - used
	if remaining < 0 {
		remaining = 0
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

func (r *Replica) limitFor(login string) int {
	if login == "" {
		return r.cfg.AnonymousRateLimit
	}
	return r.cfg.RateLimit
}

// windowLocked returns the caller's current hourly window. Callers hold r.mu.
func (r *Replica) windowLocked(id string, now time.Time) *rateWindow {
	w := r.windows[id]
	if w == nil || !now.Before(w.reset) {
		w = &rateWindow{reset: now.Add(time.Hour)}
		r.windows[id] = w
	}
	return w
}

// admit applies the primary and secondary limits to an API request,
// answering it when one is exceeded (limited is then true). Callers hold
// r.mu.
func (r *Replica) admit(w http.ResponseWriter, c *call, now time.Time) (win *rateWindow, limited bool) {
	id := identity(c.login)
	limit := r.limitFor(c.login)
	win = r.windowLocked(id, now)
	if win.used >= limit {
		win.used++ // GitHub keeps counting rejected requests in x-ratelimit-used
		setRateHeaders(w.Header(), limit, win.used, win.reset)
		writeJSON(w, r.cfg.RateLimitStatus, nil, errBody(primaryMessage(c.login), docPrimaryLimit))
		return win, true
	}
	if isWrite(c.req.Method) && r.cfg.ContentCreationPerMinute > 0 {
		recent := r.creations[id][:0]
		for _, t := range r.creations[id] {
			if now.Sub(t) < time.Minute {
				recent = append(recent, t)
			}
		}
		r.creations[id] = recent
		if len(recent) >= r.cfg.ContentCreationPerMinute {
			win.used++
			h := w.Header()
			setRateHeaders(h, limit, win.used, win.reset)
			h.Set("Retry-After", strconv.Itoa(int((r.cfg.SecondaryRetryAfter+time.Second-1)/time.Second)))
			writeJSON(w, r.cfg.RateLimitStatus, nil, errBody(secondaryMessage, docSecondary))
			return win, true
		}
		r.creations[id] = append(r.creations[id], now)
	}
	return win, false
}

// rateLimitDoc answers GET /rate_limit.
func (r *Replica) rateLimitDoc(c *call) reply {
	limit := r.limitFor(c.login)
	win := r.windowLocked(identity(c.login), c.now)
	// /rate_limit itself is free: undo the increment serveAPI will add.
	win.used--
	core := map[string]any{"limit": limit, "used": win.used + 1, "remaining": max(limit-win.used-1, 0),
		"reset": win.reset.Unix(), "resource": "core"}
	// The search API has its own per-minute limit (30 with a token, 10
	// without). The replica serves no search endpoint, so none of it is
	// ever used; the window starts now.
	searchLimit := 30
	if c.login == "" {
		searchLimit = 10
	}
	search := map[string]any{"limit": searchLimit, "used": 0, "remaining": searchLimit,
		"reset": c.now.Add(time.Minute).Unix(), "resource": "search"}
	return reply{status: http.StatusOK, body: map[string]any{"resources": map[string]any{"core": core, "search": search}, "rate": core}}
}
