// Package control is the administration channel between the herald
// command and a running server on the same machine: a Unix socket in the
// server's data directory, readable and writable only by the server's user
// (mode 0600 in a 0700 directory), carrying one JSON request and one JSON
// answer per connection. The command line uses it to list sessions and to
// tell the server about accounts it deleted or disabled in the database.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// SocketName is the socket's file name in the data directory.
const SocketName = "admin.sock"

// Operations a Request may ask for.
const (
	// OpSessions lists the bound client sessions.
	OpSessions = "sessions"
	// OpAccountChanged tells the server that an account was deleted or
	// disabled (Request.Change) behind its back: it ends the account's
	// sessions and forgets what it cached about it.
	OpAccountChanged = "account-changed"
)

// Account changes an OpAccountChanged request reports.
const (
	ChangeDeleted  = "deleted"
	ChangeDisabled = "disabled"
)

// Request is one command to the running server.
type Request struct {
	Op string `json:"op"`
	// JID is the bare JID of the account an OpAccountChanged is about.
	JID string `json:"jid,omitempty"`
	// Change is ChangeDeleted or ChangeDisabled.
	Change string `json:"change,omitempty"`
}

// Session describes one bound client session.
type Session struct {
	JID      string    `json:"jid"`
	Remote   string    `json:"remote"`
	Since    time.Time `json:"since"`
	Listener string    `json:"listener"` // "starttls" or "directtls"
	Parked   bool      `json:"parked"`
}

// Response answers a Request.
type Response struct {
	// Error is set when the request failed.
	Error string `json:"error,omitempty"`
	// Sessions answers OpSessions.
	Sessions []Session `json:"sessions,omitempty"`
	// Closed is how many sessions an OpAccountChanged ended.
	Closed int `json:"closed"`
}

// Handler carries out requests.
type Handler interface {
	// Sessions returns the bound client sessions.
	Sessions() []Session
	// AccountChanged ends the sessions of the account bare, which was
	// deleted or disabled (change), and returns how many it ended.
	AccountChanged(ctx context.Context, bare, change string) (int, error)
}

// Limits of one exchange.
const (
	maxRequestBytes = 64 << 10
	exchangeTimeout = 10 * time.Second
)

// ErrInUse is returned by Listen when a server already answers on the
// socket.
var ErrInUse = errors.New("control: another server is running on this data directory")

// ErrNotRunning is returned by Call when no server listens on the socket.
var ErrNotRunning = errors.New("control: no server is running on this data directory")

// Server serves the control socket.
type Server struct {
	ln   net.Listener
	path string
	h    Handler
	log  *slog.Logger
	wg   sync.WaitGroup
}

// Listen opens the control socket at path and serves it for h until Close.
// A socket file left by a server that is gone is replaced; one that a
// running server answers is ErrInUse, so that two servers never share a
// data directory.
func Listen(path string, h Handler, log *slog.Logger) (*Server, error) {
	if _, err := os.Lstat(path); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, derr := (&net.Dialer{}).DialContext(ctx, "unix", path)
		cancel()
		if derr == nil {
			c.Close()
			return nil, fmt.Errorf("%w (%s answers)", ErrInUse, path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control: remove the stale socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: restrict %s: %w", path, err)
	}
	s := &Server{ln: ln, path: path, h: h, log: log}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("control: accept", "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

func (s *Server) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(exchangeTimeout))
	var req Request
	var resp Response
	if err := json.NewDecoder(io.LimitReader(c, maxRequestBytes)).Decode(&req); errors.Is(err, io.EOF) {
		return // a liveness probe (see Listen): connected, asked nothing
	} else if err != nil {
		resp.Error = fmt.Sprintf("malformed request: %v", err)
	} else {
		resp = s.do(req)
	}
	if err := json.NewEncoder(c).Encode(resp); err != nil {
		s.log.Warn("control: answer", "op", req.Op, "err", err)
	}
}

func (s *Server) do(req Request) Response {
	switch req.Op {
	case OpSessions:
		return Response{Sessions: s.h.Sessions()}
	case OpAccountChanged:
		if req.Change != ChangeDeleted && req.Change != ChangeDisabled {
			return Response{Error: fmt.Sprintf("unknown account change %q", req.Change)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), exchangeTimeout)
		defer cancel()
		n, err := s.h.AccountChanged(ctx, req.JID, req.Change)
		if err != nil {
			return Response{Error: err.Error()}
		}
		s.log.Info("control: account changed from the command line", "jid", req.JID, "change", req.Change, "sessions_closed", n)
		return Response{Closed: n}
	}
	return Response{Error: fmt.Sprintf("unknown operation %q", req.Op)}
}

// Close stops serving, waits for the exchanges in progress and removes the
// socket file.
func (s *Server) Close() error {
	err := s.ln.Close() // a Unix listener removes its socket file
	s.wg.Wait()
	return err
}

// Call sends req to the server whose control socket is path and returns
// its answer. It returns ErrNotRunning when no server listens there, and
// the server's Error as an error.
func Call(ctx context.Context, path string, req Request) (Response, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return Response{}, ErrNotRunning
		}
		return Response{}, fmt.Errorf("control: connect to %s: %w", path, err)
	}
	defer c.Close()
	deadline := time.Now().Add(exchangeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.SetDeadline(deadline)
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Response{}, fmt.Errorf("control: send %s: %w", req.Op, err)
	}
	var resp Response
	if err := json.NewDecoder(io.LimitReader(c, 64<<20)).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("control: read the answer to %s: %w", req.Op, err)
	}
	if resp.Error != "" {
		return resp, fmt.Errorf("control: %s: %s", req.Op, resp.Error)
	}
	return resp, nil
}
