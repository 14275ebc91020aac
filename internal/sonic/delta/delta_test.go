package delta

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fredbook/udos-dist/internal/fetch"
	"github.com/fredbook/udos-dist/internal/retry"
)

func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// images returns an old image and a new one that differs by an edited
// region, an inserted run (shifting everything after it) and a short tail.
func images() (old, nu []byte) {
	old = randBytes(1, 1<<20+777)
	nu = append([]byte{}, old[:100000]...)
	nu = append(nu, randBytes(2, 5000)...) // inserted: shifts the rest by 5000
	nu = append(nu, old[100000:600000]...)
	nu = append(nu, randBytes(3, 20000)...) // replaced
	nu = append(nu, old[620000:]...)
	nu = append(nu, randBytes(4, 123)...)
	return old, nu
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fetcher() *fetch.Fetcher {
	f := fetch.New(nil)
	f.Attempts, f.Backoff, f.Timeout = 2, retry.Backoff{Base: time.Millisecond}, 10*time.Second
	return f
}

// server serves b with Range support; mode "norange" ignores Range,
// "tamper" flips a byte of every range it serves.
func server(t *testing.T, b []byte, mode string, requests *atomic.Int64) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests != nil {
			requests.Add(1)
		}
		body := b
		switch mode {
		case "norange":
			r.Header.Del("Range")
		case "tamper":
			body = append([]byte{}, b...)
			for i := 0; i < len(body); i += 4096 {
				body[i] ^= 0xff
			}
		}
		http.ServeContent(w, r, "image.iso", time.Unix(0, 0), bytes.NewReader(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func index(t *testing.T, b []byte) *Index {
	t.Helper()
	ix, err := MakeIndex(bytes.NewReader(b), 0)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// update is the update of images' old image, in dir as the seed, to the
// new one, nu, described by ix.
type update struct {
	nu        []byte
	dir, seed string
	ix        *Index
}

func newUpdate(t *testing.T) *update {
	t.Helper()
	old, nu := images()
	dir := t.TempDir()
	return &update{nu: nu, dir: dir, seed: write(t, dir, "old.iso", old), ix: index(t, nu)}
}

// plan plans the update over the seed (and partial, if not "").
func (u *update) plan(t *testing.T, partial string) *Plan {
	t.Helper()
	p, err := MakePlan(context.Background(), u.ix, partial, u.seed)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIndexRoundTrip(t *testing.T) {
	_, nu := images()
	ix := index(t, nu)
	raw, _ := ix.MarshalBinary()
	back, err := ParseIndex(raw)
	if err != nil {
		t.Fatal(err)
	}
	if back.Size != int64(len(nu)) || back.Blocks() != (len(nu)+4095)/4096 || back.SHA256 != ix.SHA256 || back.Strong[3] != ix.Strong[3] || back.Weak[7] != ix.Weak[7] {
		t.Fatalf("round trip differs: %d %d", back.Size, back.Blocks())
	}
}

func TestParseIndexRefusesHostile(t *testing.T) {
	good, _ := index(t, randBytes(9, 10000)).MarshalBinary()
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	cases := map[string][]byte{
		"empty":        nil,
		"magic":        mod(func(b []byte) []byte { b[0] = 'X'; return b }),
		"tiny block":   mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 16); return b }),
		"huge block":   mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 1<<30); return b }),
		"zero size":    mod(func(b []byte) []byte { binary.BigEndian.PutUint64(b[12:], 0); return b }),
		"huge count":   mod(func(b []byte) []byte { binary.BigEndian.PutUint64(b[12:], 1<<62); return b }),
		"size grows":   mod(func(b []byte) []byte { binary.BigEndian.PutUint64(b[12:], 20000); return b }),
		"truncated":    good[:len(good)-1],
		"extra entry":  append(append([]byte{}, good...), make([]byte, entrySize)...),
		"trailing":     append(append([]byte{}, good...), 0),
		"header only":  good[:headerSize],
		"short header": good[:headerSize-1],
	}
	for name, b := range cases {
		if _, err := ParseIndex(b); !errors.Is(err, ErrBadIndex) {
			t.Errorf("%s: got %v, want ErrBadIndex", name, err)
		}
	}
}

func TestPlanFindsShiftedBlocks(t *testing.T) {
	u := newUpdate(t)
	p := u.plan(t, "")
	// 25123 new bytes touch at most 25123/4096+2 blocks per region, plus
	// the block straddling each edge and the short tail.
	if got := p.MissingBytes(); got > 45000 || got < 25123 {
		t.Fatalf("missing %d bytes of %d, want about 25123 (ranges %v)", got, len(u.nu), p.Missing)
	}
	for i := 1; i < len(p.Missing); i++ {
		if p.Missing[i].Start <= p.Missing[i-1].End {
			t.Fatalf("ranges not coalesced/ordered: %v", p.Missing)
		}
	}
}

func TestApplyDelta(t *testing.T) {
	u := newUpdate(t)
	var reqs atomic.Int64
	s := server(t, u.nu, "", &reqs)
	p := u.plan(t, "")
	dest := filepath.Join(u.dir, "new.iso")
	verified := false
	st, err := Apply(context.Background(), p, fetcher(), Options{URL: s.URL, Dest: dest, Verify: func(string) error { verified = true; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dest)
	if !bytes.Equal(got, u.nu) || !verified {
		t.Fatal("assembled image differs or was not verified")
	}
	if st.Full || st.FetchedBytes != p.MissingBytes() || int64(st.Requests) != int64(len(p.Missing)) || reqs.Load() != int64(len(p.Missing)) {
		t.Fatalf("stats %+v, %d server requests, plan %d ranges", st, reqs.Load(), len(p.Missing))
	}
	if _, err := os.Stat(dest + PartialExt); !os.IsNotExist(err) {
		t.Fatal("partial file left behind")
	}
}

func TestApplyWithoutRangeDownloadsAll(t *testing.T) {
	u := newUpdate(t)
	s := server(t, u.nu, "norange", nil)
	p := u.plan(t, "")
	var log bytes.Buffer
	dest := filepath.Join(u.dir, "new.iso")
	st, err := Apply(context.Background(), p, fetcher(), Options{URL: s.URL, Dest: dest, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, u.nu) {
		t.Fatal("image differs")
	}
	if !st.Full || st.FetchedBytes != int64(len(u.nu)) || !strings.Contains(log.String(), "does not serve Range") {
		t.Fatalf("stats %+v, log %q", st, log.String())
	}
}

func TestApplyRefusesTamperedBlock(t *testing.T) {
	u := newUpdate(t)
	dest := write(t, u.dir, "new.iso", []byte("the current image"))
	s := server(t, u.nu, "tamper", nil)
	p := u.plan(t, "")
	_, err := Apply(context.Background(), p, fetcher(), Options{URL: s.URL, Dest: dest})
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "does not match the signed index") {
		t.Fatalf("got %v", err)
	}
	if got, _ := os.ReadFile(dest); string(got) != "the current image" {
		t.Fatal("destination changed")
	}
	if _, err := os.Stat(dest + PartialExt); !os.IsNotExist(err) {
		t.Fatal("refused partial file kept")
	}
}

func TestApplyRefusesBadSignatureAndWholeDigest(t *testing.T) {
	u := newUpdate(t)
	dest := write(t, u.dir, "new.iso", []byte("current"))
	s := server(t, u.nu, "norange", nil)
	p := u.plan(t, "")
	_, err := Apply(context.Background(), p, fetcher(), Options{URL: s.URL, Dest: dest, Verify: func(string) error { return errors.New("signature made by an unknown key") }})
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("got %v", err)
	}
	// A full download of other bytes than the index describes.
	other := append([]byte{}, u.nu...)
	other[len(other)/2] ^= 1
	s2 := server(t, other, "norange", nil)
	p = u.plan(t, "")
	if _, err := Apply(context.Background(), p, fetcher(), Options{URL: s2.URL, Dest: dest}); !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("got %v", err)
	}
	if got, _ := os.ReadFile(dest); string(got) != "current" {
		t.Fatal("destination changed")
	}
}

func TestApplyResumesInterrupted(t *testing.T) {
	u := newUpdate(t)
	dest := filepath.Join(u.dir, "new.iso")
	// A server that dies after the first range.
	var n atomic.Int64
	dying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		http.ServeContent(w, r, "image.iso", time.Unix(0, 0), bytes.NewReader(u.nu))
	}))
	defer dying.Close()
	p := u.plan(t, dest+PartialExt)
	first := p.Missing[0]
	if len(p.Missing) < 2 {
		t.Fatal("test needs several ranges")
	}
	if _, err := Apply(context.Background(), p, fetcher(), Options{URL: dying.URL, Dest: dest}); err == nil || errors.Is(err, ErrVerify) {
		t.Fatalf("got %v, want a network error", err)
	}
	if _, err := os.Stat(dest + PartialExt); err != nil {
		t.Fatal("interrupted update lost its partial file")
	}
	// The next run takes the first range from the partial file.
	var reqs atomic.Int64
	s := server(t, u.nu, "", &reqs)
	p2 := u.plan(t, dest+PartialExt)
	if p2.MissingBytes() != p.MissingBytes()-(first.End-first.Start) {
		t.Fatalf("resumed plan misses %d bytes, want %d", p2.MissingBytes(), p.MissingBytes()-(first.End-first.Start))
	}
	st, err := Apply(context.Background(), p2, fetcher(), Options{URL: s.URL, Dest: dest})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, u.nu) || st.Requests != len(p.Missing)-1 {
		t.Fatalf("image differs or %d requests", st.Requests)
	}
}

func TestPlanWithoutSeedFetchesAll(t *testing.T) {
	_, nu := images()
	ix := index(t, nu)
	p, err := MakePlan(context.Background(), ix, "", filepath.Join(t.TempDir(), "absent"))
	if err != nil {
		t.Fatal(err)
	}
	if p.MissingBytes() != ix.Size || len(p.Missing) != 1 {
		t.Fatalf("missing %v", p.Missing)
	}
}
