package local

import "syscall"

// childAttrs puts a child in its own process group (so the whole tree can be
// signalled) and asks the kernel to kill it if this process dies.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
