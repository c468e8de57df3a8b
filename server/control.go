package server

import (
	"context"
	"fmt"

	"github.com/herald-im/herald/internal/control"
	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/stream"
)

// controlHandler carries out the command line's requests on the control
// socket (internal/control).
type controlHandler struct{ s *Server }

// Sessions implements control.Handler.
func (h controlHandler) Sessions() []control.Session {
	infos := h.s.c2s.Sessions()
	out := make([]control.Session, len(infos))
	for i, in := range infos {
		listener := "starttls"
		if in.DirectTLS {
			listener = "directtls"
		}
		out[i] = control.Session{JID: in.JID.String(), Remote: in.Remote, Since: in.Since.UTC(), Listener: listener, Parked: in.Parked}
	}
	return out
}

// AccountChanged implements control.Handler: the account's sessions end
// with <not-authorized/> (their authentication no longer holds), and the
// caches of its privacy lists and presence rules are dropped, so that an
// account created again under the same name starts clean.
func (h controlHandler) AccountChanged(_ context.Context, bare, change string) (int, error) {
	j, err := jid.Parse(bare)
	if err != nil || !j.IsBare() || j.Local() == "" {
		return 0, fmt.Errorf("%q is not the bare JID of an account", bare)
	}
	n := h.s.c2s.CloseAccount(j, stream.Errorf(stream.NotAuthorized, "the account was %s by the administrator", change))
	h.s.privacy.Invalidate(j)
	h.s.presRules.Invalidate(j)
	return n, nil
}
