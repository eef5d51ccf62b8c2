package pglocal

import "syscall"

// sysProcAttr runs a child as cred (when not nil) in its own process group,
// and has the kernel send it SIGINT (fast shutdown for postgres) if this
// process dies without stopping it, unless detach.
func sysProcAttr(cred *syscall.Credential, detach bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGINT}
	if detach {
		a.Pdeathsig = 0
	}
	return a
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) != syscall.ESRCH
}
