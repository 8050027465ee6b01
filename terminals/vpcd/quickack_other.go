//go:build !linux

package vpcd

import "net"

// quickAck is Linux only; elsewhere an APDU may wait for a delayed ACK.
func quickAck(net.Conn) {}
