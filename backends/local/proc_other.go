//go:build !linux

package local

import "syscall"

// childAttrs puts a child in its own process group so the whole tree can be
// signalled.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
