//go:build linux && (amd64 || arm64)

package cli

import (
	"errors"
	"net"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// mmsghdr is struct mmsghdr of <sys/socket.h> on 64-bit Linux.
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
	_   [4]byte
}

// sendmmsg and recvmmsg system call numbers (syscall lacks SYS_SENDMMSG
// on amd64).
var sysSendmmsg, sysRecvmmsg uintptr = func() (uintptr, uintptr) {
	if runtime.GOARCH == "arm64" {
		return 269, 243
	}
	return 307, 299
}()

// mmsgConn batches datagrams with sendmmsg(2) and recvmmsg(2) on a
// connected UDP socket, integrated with Go's poller through RawConn so a
// blocked call parks the goroutine instead of a thread.
type mmsgConn struct {
	raw              syscall.RawConn
	smsgs, rmsgs     []mmsghdr
	siovs, riovs     []syscall.Iovec
	sendN, recvN     int
	sent, got        int
	sendErr, recvErr syscall.Errno
	sendFn, recvFn   func(fd uintptr) bool
}

func newBatchConn(c *net.UDPConn) (batchConn, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return simpleBatchConn{c}, nil
	}
	m := &mmsgConn{
		raw:   raw,
		smsgs: make([]mmsghdr, udpBatch), rmsgs: make([]mmsghdr, udpBatch),
		siovs: make([]syscall.Iovec, udpBatch), riovs: make([]syscall.Iovec, udpBatch),
	}
	for i := range m.smsgs {
		m.smsgs[i].hdr.Iov, m.smsgs[i].hdr.Iovlen = &m.siovs[i], 1
		m.rmsgs[i].hdr.Iov, m.rmsgs[i].hdr.Iovlen = &m.riovs[i], 1
	}
	m.sendFn = func(fd uintptr) bool {
		r, _, e := syscall.Syscall6(sysSendmmsg, fd, uintptr(unsafe.Pointer(&m.smsgs[0])), uintptr(m.sendN), syscall.MSG_DONTWAIT, 0, 0)
		if e == syscall.EAGAIN || e == syscall.EINTR {
			return false
		}
		m.sent, m.sendErr = int(r), e
		return true
	}
	m.recvFn = func(fd uintptr) bool {
		r, _, e := syscall.Syscall6(sysRecvmmsg, fd, uintptr(unsafe.Pointer(&m.rmsgs[0])), uintptr(m.recvN), syscall.MSG_DONTWAIT, 0, 0)
		if e == syscall.EAGAIN || e == syscall.EINTR {
			return false
		}
		m.got, m.recvErr = int(r), e
		return true
	}
	return m, nil
}

func (m *mmsgConn) writeBatch(pkts [][]byte) error {
	for len(pkts) > 0 {
		m.sendN = min(len(pkts), len(m.smsgs))
		for i := range m.sendN {
			m.siovs[i].Base = &pkts[i][0]
			m.siovs[i].SetLen(len(pkts[i]))
		}
		if err := m.raw.Write(m.sendFn); err != nil {
			return err
		}
		if m.sendErr != 0 {
			if m.sendErr == syscall.ECONNREFUSED {
				return m.sendErr // reported once by the kernel; counted by the caller
			}
			return os.NewSyscallError("sendmmsg", m.sendErr)
		}
		pkts = pkts[max(m.sent, 1):]
	}
	return nil
}

func (m *mmsgConn) readBatch(bufs [][]byte, lens []int) (int, error) {
	m.recvN = min(len(bufs), len(m.rmsgs))
	for i := range m.recvN {
		m.riovs[i].Base = &bufs[i][0]
		m.riovs[i].SetLen(len(bufs[i]))
	}
	if err := m.raw.Read(m.recvFn); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, errBatchTimeout
		}
		return 0, err
	}
	if m.recvErr != 0 {
		if m.recvErr == syscall.ECONNREFUSED {
			return 0, m.recvErr
		}
		return 0, os.NewSyscallError("recvmmsg", m.recvErr)
	}
	for i := range m.got {
		lens[i] = int(m.rmsgs[i].n)
	}
	return m.got, nil
}
