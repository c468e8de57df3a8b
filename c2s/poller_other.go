//go:build !linux

package c2s

// poller is unavailable on this platform: idle sessions keep their reading
// goroutine.
type poller struct{}

func newPoller() (*poller, error)     { return nil, nil }
func (p *poller) park(*conn) bool     { return false }
func (p *poller) unpark(*conn) bool   { return false }
func (p *poller) close()              {}
func (p *poller) count() int          { return 0 }
func (p *poller) isParked(*conn) bool { return false }
