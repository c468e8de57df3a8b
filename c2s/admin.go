package c2s

import (
	"slices"
	"strings"
	"time"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/stream"
)

// SessionInfo describes one bound client session, for operators.
type SessionInfo struct {
	// JID is the session's full JID.
	JID jid.JID
	// Remote is the client's address.
	Remote string
	// Since is when the resource was bound.
	Since time.Time
	// DirectTLS is true for a session on the direct TLS listener
	// (XEP-0368), false for STARTTLS.
	DirectTLS bool
	// Parked is true while the session is silent and has no reading
	// goroutine (see Config.ParkAfter).
	Parked bool
}

// boundInfo returns c's full JID and bind time if c is a bound session that is
// not closing.
func (c *conn) boundInfo() (full jid.JID, since time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.bound || c.closing {
		return jid.JID{}, time.Time{}, false
	}
	return c.jid, c.boundAt, true
}

// Sessions returns the bound sessions, sorted by JID.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]SessionInfo, 0, len(conns))
	for _, c := range conns {
		full, since, ok := c.boundInfo()
		if !ok {
			continue
		}
		out = append(out, SessionInfo{
			JID:       full,
			Remote:    c.raw.RemoteAddr().String(),
			Since:     since,
			DirectTLS: c.directTLS,
			Parked:    s.poll.isParked(c),
		})
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.JID.String(), b.JID.String()) })
	return out
}

// CloseAccount ends every bound session of the account bare with serr
// (for an account deleted or disabled while it was online) and returns how
// many it ended.
func (s *Server) CloseAccount(bare jid.JID, serr *stream.Error) int {
	bare = bare.Bare()
	s.mu.Lock()
	var victims []*conn
	for c := range s.conns {
		if full, _, ok := c.boundInfo(); ok && full.Bare() == bare {
			victims = append(victims, c)
		}
	}
	s.mu.Unlock()
	for _, c := range victims {
		c.Close(serr)
	}
	return len(victims)
}
