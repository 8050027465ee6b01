package vpcd

import (
	"net"
	"syscall"
)

// quickAck re-arms TCP_QUICKACK (Linux clears it after a while), so the
// reader's next segment is acknowledged at once instead of after the
// delayed-ACK timer.
func quickAck(conn net.Conn) {
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		// A failure only costs latency.
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
