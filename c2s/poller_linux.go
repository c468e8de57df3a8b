//go:build linux

package c2s

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller parks idle sessions: instead of a goroutine blocked in Read, a
// parked session is one registration in a shared epoll instance, and a
// goroutine is started again when its socket becomes readable (or when the
// server must act on it, see unpark). This removes the reader's stack,
// the largest part of an idle session's memory.
//
// The socket stays registered with Go's own network poller too; epoll
// allows one file in several instances. Registrations are one-shot, so an
// event fires once per park.
type poller struct {
	epfd int
	// stop is an eventfd registered under token 0: closing an epoll file
	// does not wake a thread blocked in epoll_wait, a write to it does.
	stop int
	done chan struct{}

	mu      sync.Mutex
	next    uint64
	waiting map[uint64]*conn
	closed  bool
}

func newPoller() (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("c2s: epoll_create1: %w", err)
	}
	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("c2s: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN} // token 0
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, stop, &ev); err != nil {
		unix.Close(fd)
		unix.Close(stop)
		return nil, fmt.Errorf("c2s: epoll_ctl: %w", err)
	}
	p := &poller{epfd: fd, stop: stop, done: make(chan struct{}), waiting: make(map[uint64]*conn)}
	go p.loop()
	return p, nil
}

// park registers c to be resumed when its socket is readable and reports
// whether it did; on false the caller keeps reading itself.
func (p *poller) park(c *conn) bool {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if c.pollToken == 0 {
		p.next++
		c.pollToken = p.next
	}
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT,
		Fd:     int32(c.pollToken),
		Pad:    int32(c.pollToken >> 32),
	}
	var ctlErr error
	err = rc.Control(func(fd uintptr) {
		op := unix.EPOLL_CTL_MOD
		if !c.pollAdded {
			op = unix.EPOLL_CTL_ADD
		}
		ctlErr = unix.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err != nil || ctlErr != nil {
		return false
	}
	c.pollAdded = true
	p.waiting[c.pollToken] = c
	return true
}

// unpark takes c out of the waiting set and reports whether it was
// parked; the caller then owns resuming it.
func (p *poller) unpark(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.pollToken == 0 || p.waiting[c.pollToken] != c {
		return false
	}
	delete(p.waiting, c.pollToken)
	return true
}

// isParked reports whether c is parked; false for a nil poller.
func (p *poller) isParked(c *conn) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return c.pollToken != 0 && p.waiting[c.pollToken] == c
}

// count returns the number of parked sessions.
func (p *poller) count() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiting)
}

func (p *poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for i := range events[:n] {
			token := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
			if token == 0 {
				return // close was called
			}
			p.mu.Lock()
			c := p.waiting[token]
			delete(p.waiting, token)
			p.mu.Unlock()
			if c != nil {
				go c.resume()
			}
		}
	}
}

// close stops the poller and waits for its loop to end; parked sessions
// must have been resumed first.
func (p *poller) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	_, _ = unix.Write(p.stop, one)
	<-p.done
	unix.Close(p.epfd)
	unix.Close(p.stop)
}
