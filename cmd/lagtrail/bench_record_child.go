package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds of what bench record keeps of the recorder's log.
const (
	benchLogTail    = 20 // warning and error lines kept for the report
	benchLogForward = 20 // of them, printed on stderr as they come
)

// benchChild is the `lagtrail record` process of one run.
type benchChild struct {
	cmd    *exec.Cmd
	secret string
	echo   func(string)
	addr   chan string
	done   chan struct{}

	mu               sync.Mutex
	warnings, errors int
	tail             []string
	leaked           bool
	forwarded        int
}

// startBenchChild runs exe as `lagtrail record` with env, reading its JSON
// log for the metrics address, warnings and errors. echo receives the first
// warning and error lines.
func startBenchChild(exe string, args, env []string, secret string, echo func(string)) (*benchChild, error) {
	c := &benchChild{cmd: exec.Command(exe, args...), secret: secret, echo: echo, addr: make(chan string, 1), done: make(chan struct{})}
	c.cmd.Env = env
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start recorder: %w", err)
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start recorder: %w", err)
	}
	go func() {
		defer close(c.done)
		c.read(stderr)
		_ = c.cmd.Wait()
	}()
	return c, nil
}

// benchEnv is the environment of the recorder: this process's, without any
// Alibaba Cloud credentials or database URL of its own, plus the run's.
func benchEnv(keyID, secret, dbURL string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ALIBABA_CLOUD_") || strings.HasPrefix(kv, envDatabaseURL+"=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"ALIBABA_CLOUD_ACCESS_KEY_ID="+keyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+secret,
		envDatabaseURL+"="+dbURL,
	)
}

// read consumes the log until the process closes it.
func (c *benchChild) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		c.line(sc.Text())
	}
	_, _ = io.Copy(io.Discard, r)
}

func (c *benchChild) line(s string) {
	if c.secret != "" && strings.Contains(s, c.secret) {
		c.mu.Lock()
		c.leaked = true
		c.mu.Unlock()
		s = strings.ReplaceAll(s, c.secret, "[REDACTED]")
	}
	var rec struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
		Addr  string `json:"addr"`
		Err   string `json:"err"`
		Code  string `json:"code"`
	}
	level := "ERROR" // a line that is not a log record: a panic, say
	if json.Unmarshal([]byte(s), &rec) == nil && rec.Level != "" {
		level = rec.Level
	}
	if rec.Msg == "serving metrics and health" && rec.Addr != "" {
		select {
		case c.addr <- rec.Addr:
		default:
		}
		return
	}
	if level != "WARN" && level != "ERROR" {
		return
	}
	c.mu.Lock()
	if level == "WARN" {
		c.warnings++
	} else {
		c.errors++
	}
	c.tail = append(c.tail, s)
	if len(c.tail) > benchLogTail {
		c.tail = c.tail[1:]
	}
	forward := c.forwarded < benchLogForward
	c.forwarded++
	c.mu.Unlock()
	if forward && c.echo != nil {
		c.echo(oneLine(s))
	}
}

// logTail returns the last warning and error lines.
func (c *benchChild) logTail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

// exited reports the process's end as an error with its last log lines.
func (c *benchChild) exited() error {
	return fmt.Errorf("the recorder exited early (%s); its last warnings and errors:\n%s", c.cmd.ProcessState, c.logTail())
}

// waitAddr waits for the metrics address the recorder logs once it serves.
func (c *benchChild) waitAddr(ctx context.Context, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a := <-c.addr:
		return a, nil
	case <-c.done:
		return "", c.exited()
	case <-ctx.Done():
		return "", ctx.Err()
	case <-t.C:
		return "", fmt.Errorf("the recorder did not serve metrics within %s; its last warnings and errors:\n%s", timeout, c.logTail())
	}
}

// sleepUntil waits until t, failing when the recorder exits or ctx ends.
func (c *benchChild) sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-c.done:
		return c.exited()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop sends SIGTERM and waits up to grace for a clean exit, then kills.
func (c *benchChild) stop(grace time.Duration) error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.kill()
		return fmt.Errorf("the recorder did not stop within %s of SIGTERM; its last warnings and errors:\n%s", grace, c.logTail())
	}
	if !c.cmd.ProcessState.Success() {
		return fmt.Errorf("the recorder exited with %s after SIGTERM; its last warnings and errors:\n%s", c.cmd.ProcessState, c.logTail())
	}
	return nil
}

// kill ends the process if it still runs, and waits for it.
func (c *benchChild) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return
	}
	<-c.done
}

// cpu returns the user and system CPU time of the exited process.
func (c *benchChild) cpu() (user, system time.Duration) {
	return c.cmd.ProcessState.UserTime(), c.cmd.ProcessState.SystemTime()
}
