package ghrelease

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRateLimitedClassification(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	tr := &transport{clock: &fakeClock{t: now}, maxWait: time.Hour}
	cases := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		limited   bool
		secondary bool
		wait      time.Duration
	}{
		{"ok", 200, nil, "", false, false, 0},
		{"permission 403", 403, nil, `{"message":"Resource not accessible by integration"}`, false, false, 0},
		{"primary with reset", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(now.Add(42*time.Second).Unix(), 10)}, "", true, false, 43 * time.Second},
		{"primary 429, reset passed", 429, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)}, "", true, false, time.Second},
		{"primary without reset", 403, map[string]string{"X-RateLimit-Remaining": "0"}, "", true, false, time.Minute},
		{"secondary retry-after seconds", 403, map[string]string{"Retry-After": "5"}, "", true, true, 5 * time.Second},
		{"secondary retry-after date", 429, map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, "", true, true, 90 * time.Second},
		{"retry-after garbage", 429, map[string]string{"Retry-After": "soon"}, "", true, true, time.Minute},
		{"429 without headers", 429, nil, "", true, true, time.Minute},
		{"secondary by body only", 403, nil, `{"message":"You have exceeded a secondary rate limit."}`, true, true, time.Minute},
		{"500", 500, map[string]string{"Retry-After": "5"}, "", false, false, 0},
	}
	for _, tc := range cases {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tc.body))}
		for k, v := range tc.header {
			resp.Header.Set(k, v)
		}
		wait, rl := tr.rateLimited(resp)
		if (rl != nil) != tc.limited || wait != tc.wait || (rl != nil && rl.Secondary != tc.secondary) {
			t.Errorf("%s: wait %s limited %v (%+v)", tc.name, wait, rl != nil, rl)
		}
		// The body must stay readable for go-github's error.
		if b, _ := io.ReadAll(resp.Body); string(b) != tc.body {
			t.Errorf("%s: body consumed: %q", tc.name, b)
		}
	}
}
