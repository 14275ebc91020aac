package ghreplica

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	if _, err := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1", Assets: []AssetSpec{{Name: "a.bin", Data: []byte("a")}}}); err != nil {
		t.Fatal(err)
	}
	bad := f.do(t, "POST", "/_replica/faults", "", []byte(`{"kind":"meteor"}`))
	if bad.status != 400 {
		t.Errorf("unknown kind: %d", bad.status)
	}
	if res := f.do(t, "POST", "/_replica/faults", "", []byte(`{"kind":"429","method":"GET","path_prefix":"/repos/","retry_after_seconds":7}`)); res.status != 204 {
		t.Fatalf("inject: %d %s", res.status, res.body)
	}
	if res := f.do(t, "GET", "/repos/fredbook/uDOS", "", nil); res.status != 429 || res.header.Get("Retry-After") != "7" {
		t.Errorf("injected over HTTP: %d %q", res.status, res.header.Get("Retry-After"))
	}
	f.do(t, "POST", "/repos/fredbook/uDOS/dispatches", pushToken, []byte(`{"event_type":"go"}`))
	var st State
	if err := json.Unmarshal(f.do(t, "GET", "/_replica/state", "", nil).body, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Repos) != 1 || len(st.Repos[0].Releases) != 1 || st.Repos[0].Releases[0].Assets[0].Digest == "" || len(st.Dispatches) != 1 {
		t.Errorf("state: %+v", st)
	}
	var log []LoggedRequest
	_ = json.Unmarshal(f.do(t, "GET", "/_replica/requests", "", nil).body, &log)
	if len(log) != 2 || log[0].Fault != Status429 || log[1].Method != "POST" {
		t.Errorf("log over HTTP: %+v", log)
	}
	f.r.Inject(Fault{Kind: Status5xx, Times: -1})
	if res := f.do(t, "DELETE", "/_replica/faults", "", nil); res.status != 204 || f.r.PendingFaults() != 0 {
		t.Errorf("clear: %d, %d pending", res.status, f.r.PendingFaults())
	}
}

// brokenReader sends part of an upload and then fails, like a runner
// cancelled mid-upload.
type brokenReader struct{ n int }

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, errors.New("runner cancelled")
	}
	n := min(len(p), b.n)
	for i := range n {
		p[i] = 'x'
	}
	b.n -= n
	return n, nil
}

func TestClientAbortLeavesStarter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	rel, _ := f.r.AddRelease("fredbook", "uDOS", ReleaseSpec{Tag: "v1", Draft: true})
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/uploads/repos/fredbook/uDOS/releases/"+itoa(rel.ID)+"/assets?name=big.iso",
		io.NopCloser(&brokenReader{n: 64 << 10}))
	req.ContentLength = 1 << 20
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+pushToken)
	if res, err := f.srv.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("broken upload answered %d", res.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		snap, _ := f.r.ReleaseByTag("fredbook", "uDOS", "v1")
		if len(snap.Assets) == 1 {
			if snap.Assets[0].State != "starter" || snap.Assets[0].Name != "big.iso" {
				t.Fatalf("asset %+v", snap.Assets[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no starter asset after a broken upload")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
