package sim

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// sniffListener serves TLS, and answers a plain-HTTP request on the same
// port as pveproxy does: 301 (GET/HEAD) or 308 to the https:// URL, then
// closes the connection.
type sniffListener struct {
	net.Listener
	conf  *tls.Config
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newSniffListener(ln net.Listener, conf *tls.Config) *sniffListener {
	l := &sniffListener{Listener: ln, conf: conf, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.loop()
	return l
}

func (l *sniffListener) loop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.Close()
			return
		}
		go l.sniff(c)
	}
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (l *sniffListener) sniff(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if first[0] != 0x16 { // not a TLS handshake record
		redirectPlain(c, br)
		return
	}
	select {
	case l.conns <- tls.Server(&peekedConn{Conn: c, r: br}, l.conf):
	case <-l.done:
		c.Close()
	}
}

func redirectPlain(c net.Conn, br *bufio.Reader) {
	defer c.Close()
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	code, text := 308, "Permanent Redirect"
	if req.Method == "GET" || req.Method == "HEAD" {
		code, text = 301, "Moved Permanently"
	}
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nLocation: https://%s%s\r\nServer: pve-api-daemon/3.0\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
		code, text, req.Host, req.URL.RequestURI())
}

func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *sniffListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}
