//go:build unix

package integration

import (
	"fmt"
	"syscall"
)

// receiveBufferControl returns a net.Dialer Control function that sets
// the socket's receive buffer to size bytes before it connects, so that
// the TCP window it advertises from the start is small.
func receiveBufferControl(size int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
		}); err != nil {
			return fmt.Errorf("control socket: %w", err)
		}
		if serr != nil {
			return fmt.Errorf("set SO_RCVBUF to %d: %w", size, serr)
		}
		return nil
	}
}
