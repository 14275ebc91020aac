package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRejectsNonLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:80", "example.org:80"} {
		if err := run(context.Background(), []string{"-addr", addr}, io.Discard); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestRejectsBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-repo", "uDOS"}, `invalid repository "uDOS": want OWNER/NAME`},
		{[]string{"-repo", "fredbook/u/DOS"}, `invalid repository "fredbook/u/DOS"`},
		{[]string{"-repo", "fredbook/.."}, `invalid repository "fredbook/.."`},
		{[]string{"-repo", "fredbook/uDOS", "-repo", "FREDBOOK/udos"}, "already exists"},
		{[]string{"-rate-limit-status", "500"}, "want 403 or 429"},
		{[]string{"-archived-repo", "nope"}, `-archived-repo: invalid repository "nope"`},
		{[]string{"-repo", "fredbook/lib", "-archived-repo", "fredbook/lib"}, "already exists"},
	} {
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, tc.args...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestServesSeededRepo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-token", "tok", "-integration-read-token", "ro", "-org", "fredbook", "-repo", "fredbook/uDOS",
			"-archived-repo", "fredbook/old"}, pw)
	}()
	base, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base = strings.TrimSpace(base)
	req, _ := http.NewRequest("GET", base+"/orgs/fredbook/repos", nil)
	req.Header.Set("Authorization", "Bearer tok")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"full_name":"fredbook/uDOS"`) ||
		!strings.Contains(string(body), `"full_name":"fredbook/old","private":false`) || !strings.Contains(string(body), `"archived":true`) {
		t.Errorf("%d %s", res.StatusCode, body)
	}
	for _, tc := range []struct {
		token, repo string
		status      int
	}{{"ro", "uDOS", 403}, {"tok", "old", 403}, {"tok", "uDOS", 201}} {
		req, _ := http.NewRequest("POST", base+"/repos/fredbook/"+tc.repo+"/releases", strings.NewReader(`{"tag_name":"v1","draft":true}`))
		req.Header.Set("Authorization", "Bearer "+tc.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("create release in %s with %s: %d, want %d", tc.repo, tc.token, res.StatusCode, tc.status)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
}
