//go:build unix

package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// clusterDirPattern names the temp dir of a local cluster.
	clusterDirPattern = "lagtrail-pg-*"
	// ownerFile in the cluster dir holds the pid of the process that made
	// it, so a later start can remove dirs of processes that were killed.
	ownerFile = "owner.pid"
	// initdbTimeout bounds initdb.
	initdbTimeout = 2 * time.Minute
	// readyTimeout bounds waiting for a started postgres to accept
	// connections.
	readyTimeout = 30 * time.Second
	// stopTimeout bounds a fast shutdown before the server is killed.
	stopTimeout = 20 * time.Second
	// portAttempts is how often a start is retried when another process took
	// the chosen port first.
	portAttempts = 3
	// logTail is how much of a log goes into an error.
	logTail = 2000
	// maxSocketPath keeps the unix socket path under the kernel's limit of
	// 108 bytes including ".s.PGSQL.<port>" and the terminating NUL.
	maxSocketPath = 90
	// superuser is the role initdb creates.
	superuser = "postgres"
)

// localCluster is a PostgreSQL cluster this process created and runs.
type localCluster struct {
	dir     string // temp dir: data dir, socket, logs
	dataDir string
	logPath string
	port    int
	proc    *proc
	detach  bool // no parent-death signal
	binDir  string
	cred    *syscall.Credential
	// settings are the -c settings postgres runs with.
	settings []string
}

// startCluster removes stale cluster dirs, then creates and starts a
// cluster with the binaries in binDir.
func startCluster(ctx context.Context, binDir string, log *slog.Logger, detach, replication bool) (*Server, error) {
	removeStaleDirs(log)
	c, err := startLocalCluster(ctx, binDir, detach, settings(replication), nil)
	if err != nil {
		return nil, err
	}
	srv := c.server("local cluster")
	if replication {
		srv.standby = func(ctx context.Context) (*Server, error) {
			sc, err := startLocalCluster(ctx, binDir, detach, c.settings, c)
			if err != nil {
				return nil, fmt.Errorf("start standby: %w", err)
			}
			return sc.server("hot standby"), nil
		}
	}
	return srv, nil
}

// server returns the Server of a started cluster, described as what.
func (c *localCluster) server(what string) *Server {
	binDir := c.binDir
	return &Server{
		url: &url.URL{
			Scheme:   "postgres",
			User:     url.User(superuser),
			Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
			Path:     "/postgres",
			RawQuery: "sslmode=disable",
		},
		source: fmt.Sprintf("%s from %s on 127.0.0.1:%d in %s", what, binDir, c.port, c.dir),
		dir:    c.dir,
		binDir: binDir,
		stop:   c.stop,
		halt:   c.halt,
		resume: c.resume,
	}
}

// startLocalCluster runs initdb in a new temp dir, or, with a primary, takes
// a base backup of it there for a standby, and starts postgres on a free
// loopback port.
func startLocalCluster(ctx context.Context, binDir string, detach bool, settings []string, primary *localCluster) (c *localCluster, err error) {
	cred, err := clusterCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", clusterDirPattern)
	if err != nil {
		return nil, fmt.Errorf("make cluster dir: %w", err)
	}
	c = &localCluster{binDir: binDir, cred: cred, detach: detach, dir: dir, dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "postgres.log"), settings: settings}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.stop(context.WithoutCancel(ctx)))
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return c, fmt.Errorf("write owner file: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return c, fmt.Errorf("give cluster dir to user %s: %w", runAsUser, err)
		}
	}
	if primary == nil {
		err = c.initdb(ctx, binDir, cred)
	} else {
		err = c.baseBackup(ctx, binDir, cred, primary.port)
	}
	if err != nil {
		return c, err
	}
	for attempt := 1; ; attempt++ {
		err := c.start(ctx, binDir, cred)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return c, err
		}
	}
}

// initdb creates the cluster's data directory.
func (c *localCluster) initdb(ctx context.Context, binDir string, cred *syscall.Credential) error {
	ctx, cancel := context.WithTimeout(ctx, initdbTimeout)
	defer cancel()
	logPath := filepath.Join(c.dir, "initdb.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create initdb log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"-D", c.dataDir, "-A", "trust", "-U", superuser, "--no-sync", "-E", "UTF8", "--locale=C")
	prepare(cmd, c.dir, logFile, cred, c.detach)
	p, err := startProc(cmd)
	if err != nil {
		return fmt.Errorf("start initdb: %w", err)
	}
	<-p.done
	if p.err != nil {
		return fmt.Errorf("initdb: %w%s", p.err, tailOf(logPath))
	}
	return nil
}

// baseBackup fills the data directory with a base backup of the primary on
// port, streaming the WAL it needs, and configures it as the primary's
// standby (pg_basebackup -R).
func (c *localCluster) baseBackup(ctx context.Context, binDir string, cred *syscall.Credential, port int) error {
	ctx, cancel := context.WithTimeout(ctx, initdbTimeout)
	defer cancel()
	logPath := filepath.Join(c.dir, "basebackup.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create pg_basebackup log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "pg_basebackup"),
		"-D", c.dataDir, "-R", "-X", "stream", "--no-sync", "-c", "fast",
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", superuser)
	prepare(cmd, c.dir, logFile, cred, c.detach)
	p, err := startProc(cmd)
	if err != nil {
		return fmt.Errorf("start pg_basebackup: %w", err)
	}
	<-p.done
	if p.err != nil {
		return fmt.Errorf("pg_basebackup: %w%s", p.err, tailOf(logPath))
	}
	return nil
}

// errPortTaken marks a start that failed because the port was in use.
var errPortTaken = errors.New("port taken")

// start starts postgres on a free port and waits until it accepts
// connections.
func (c *localCluster) start(ctx context.Context, binDir string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	return c.startOn(ctx, binDir, cred, port)
}

// startOn starts postgres on port and waits until it accepts connections.
func (c *localCluster) startOn(ctx context.Context, binDir string, cred *syscall.Credential, port int) error {
	socketDir := c.dir
	if len(socketDir) > maxSocketPath {
		socketDir = "" // too long for a unix socket; TCP only
	}
	args := []string{"-D", c.dataDir, "-k", socketDir, "-h", "127.0.0.1", "-p", strconv.Itoa(port)}
	for _, s := range c.settings {
		args = append(args, "-c", s)
	}
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open postgres log: %w", err)
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	prepare(cmd, c.dir, logFile, cred, c.detach)
	p, err := startProc(cmd)
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.proc, c.port = p, port
	if err := c.waitReady(ctx); err != nil {
		log := tailOf(c.logPath)
		if strings.Contains(log, "could not bind") || strings.Contains(log, "already in use") {
			err = errors.Join(err, errPortTaken)
		}
		return errors.Join(fmt.Errorf("postgres on port %d: %w%s", port, err, log), c.kill())
	}
	return nil
}

// waitReady polls until postgres accepts connections, it exits, or time is
// up.
func (c *localCluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	connURL := fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", superuser, c.port)
	var lastErr error
	for {
		select {
		case <-c.proc.done:
			return fmt.Errorf("exited before accepting connections: %w", c.proc.exitErr())
		default:
		}
		attemptCtx, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attemptCtx, connURL)
		if err == nil {
			err = conn.Ping(attemptCtx)
			_ = conn.Close(attemptCtx)
		}
		cancelAttempt()
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("not accepting connections after %v: %w", readyTimeout, lastErr)
		case <-c.proc.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// halt shuts postgres down (fast shutdown) and keeps the cluster dir.
func (c *localCluster) halt(ctx context.Context) error {
	if c.proc == nil {
		return errors.New("postgres is not running")
	}
	select {
	case <-c.proc.done:
		return errors.New("postgres is not running")
	default:
	}
	if err := c.proc.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("signal postgres: %w", err)
	}
	select {
	case <-c.proc.done:
		return nil
	case <-ctx.Done():
		return errors.Join(ctx.Err(), c.kill())
	}
}

// resume starts a halted postgres again on its port.
func (c *localCluster) resume(ctx context.Context) error {
	if c.proc != nil {
		select {
		case <-c.proc.done:
		default:
			return errors.New("postgres is running")
		}
	}
	return c.startOn(ctx, c.binDir, c.cred, c.port)
}

// stop shuts the server down (fast shutdown, then kill) and removes the
// cluster dir.
func (c *localCluster) stop(ctx context.Context) error {
	var errs []error
	if c.proc != nil {
		select {
		case <-c.proc.done:
		default:
			if err := c.proc.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
				errs = append(errs, fmt.Errorf("signal postgres: %w", err))
			}
			timer := time.NewTimer(stopTimeout)
			select {
			case <-c.proc.done:
			case <-timer.C:
				errs = append(errs, fmt.Errorf("postgres did not shut down in %v; killing it", stopTimeout))
				errs = append(errs, c.kill())
			case <-ctx.Done():
				errs = append(errs, c.kill())
			}
			timer.Stop()
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove cluster dir: %w", err))
	}
	return errors.Join(errs...)
}

// kill ends the server at once and waits for it.
func (c *localCluster) kill() error {
	if c.proc == nil {
		return nil
	}
	if err := c.proc.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill postgres: %w", err)
	}
	<-c.proc.done
	return nil
}

// freePort asks the kernel for a free loopback TCP port. Another process
// may take it before postgres binds it; start retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailOf returns the end of a log file, formatted to append to an error.
func tailOf(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	if len(b) > logTail {
		b = b[len(b)-logTail:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return "\n--- " + path + " (tail) ---\n" + strings.TrimRight(string(b), "\n")
}
