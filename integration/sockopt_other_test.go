//go:build !unix

package integration

import "syscall"

// receiveBufferControl returns nil where setting socket options before
// connecting is not portable: the test shrinks the buffer after connecting
// with (*net.TCPConn).SetReadBuffer instead.
func receiveBufferControl(int) func(network, address string, c syscall.RawConn) error {
	return nil
}
