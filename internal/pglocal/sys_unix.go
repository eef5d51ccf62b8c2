//go:build unix && !linux

package pglocal

import "syscall"

// sysProcAttr runs a child as cred (when not nil) in its own process group.
// Without Linux's parent-death signal a killed process leaves the server
// running.
func sysProcAttr(cred *syscall.Credential, _ bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: cred,
		Setpgid:    true,
	}
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) != syscall.ESRCH
}
