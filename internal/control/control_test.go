package control

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeHandler struct {
	mu      sync.Mutex
	changed []string
}

func (h *fakeHandler) Sessions() []Session {
	return []Session{{JID: "alice@localhost/phone", Remote: "127.0.0.1:4000", Since: time.Unix(1700000000, 0).UTC(), Listener: "starttls"}}
}

func (h *fakeHandler) AccountChanged(_ context.Context, bare, change string) (int, error) {
	if bare == "broken@localhost" {
		return 0, errors.New("no such thing")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.changed = append(h.changed, bare+" "+change)
	return 2, nil
}

// socketPath returns a short socket path: Unix socket paths are limited
// to about 100 bytes, and test directories can be longer.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, SocketName)
}

func TestControl_RequestsAndAnswers(t *testing.T) {
	path := socketPath(t)
	h := &fakeHandler{}
	s, err := Listen(path, h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v, %v; want 0600", fi.Mode(), err)
	}
	ctx := t.Context()

	resp, err := Call(ctx, path, Request{Op: OpSessions})
	if err != nil || len(resp.Sessions) != 1 || resp.Sessions[0].JID != "alice@localhost/phone" || !resp.Sessions[0].Since.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("sessions: %+v, %v", resp, err)
	}
	resp, err = Call(ctx, path, Request{Op: OpAccountChanged, JID: "bob@localhost", Change: ChangeDeleted})
	if err != nil || resp.Closed != 2 || len(h.changed) != 1 || h.changed[0] != "bob@localhost deleted" {
		t.Errorf("account-changed: %+v, %v, handler saw %q", resp, err, h.changed)
	}
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{Op: "reboot"}, `unknown operation "reboot"`},
		{Request{Op: OpAccountChanged, JID: "bob@localhost", Change: "renamed"}, `unknown account change "renamed"`},
		{Request{Op: OpAccountChanged, JID: "broken@localhost", Change: ChangeDisabled}, "no such thing"},
	} {
		if _, err := Call(ctx, path, tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.req, err, tc.want)
		}
	}
}

func TestControl_OneServerPerSocket(t *testing.T) {
	path := socketPath(t)
	log := slog.New(slog.DiscardHandler)
	s, err := Listen(path, &fakeHandler{}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, &fakeHandler{}, log); !errors.Is(err, ErrInUse) {
		t.Errorf("a second server on a live socket: %v, want ErrInUse", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket file is still there after Close: %v", err)
	}
	if _, err := Call(t.Context(), path, Request{Op: OpSessions}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Call with no server: %v, want ErrNotRunning", err)
	}
}

func TestControl_StaleSocketReplaced(t *testing.T) {
	path := socketPath(t)
	log := slog.New(slog.DiscardHandler)
	// A file where the socket goes and nobody listening: a server that
	// died without cleaning up.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Call(t.Context(), path, Request{Op: OpSessions}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Call on a stale socket: %v, want ErrNotRunning", err)
	}
	s, err := Listen(path, &fakeHandler{}, log)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer s.Close()
	if _, err := Call(t.Context(), path, Request{Op: OpSessions}); err != nil {
		t.Errorf("Call after replacing the stale socket: %v", err)
	}
}

func TestControl_MalformedRequest(t *testing.T) {
	path := socketPath(t)
	s, err := Listen(path, &fakeHandler{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := (&net.Dialer{}).DialContext(t.Context(), "unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("{not json\n"))
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil || !strings.Contains(resp.Error, "malformed request") {
		t.Errorf("answer to garbage: %+v, %v", resp, err)
	}
}
