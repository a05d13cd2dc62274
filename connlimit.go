package main

import (
	"net"
	"sync"
)

// connLimit caps the connections open at once on the listeners it wraps:
// past the cap, Accept waits until one closes, and new clients wait in the
// kernel's backlog rather than each taking a goroutine, buffers and a file
// descriptor. (golang.org/x/net/netutil.LimitListener does the same
// for one listener; this is small enough not to add the module for.)
type connLimit chan struct{}

func newConnLimit(n int) connLimit { return make(connLimit, n) }

// wrap returns ln with its accepted connections counted against l.
func (l connLimit) wrap(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, slots: l, closed: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	slots     connLimit
	closed    chan struct{}
	closeOnce sync.Once
}

// Accept waits for a free slot, then for a connection.
func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

// Close closes the listener and wakes an Accept waiting for a slot.
func (l *limitedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

type limitedConn struct {
	net.Conn
	releaseOnce sync.Once
	release     func()
}

// Close closes the connection and frees its slot, once.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.releaseOnce.Do(c.release)
	return err
}
