package local

import (
	"context"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// outputDrainDelay bounds how long a script's output is still read once its
// process group has been killed: a process that left the group (setsid)
// could otherwise hold the pipe, and the job, open for ever.
const outputDrainDelay = 2 * time.Second

// diskCheckInterval is how often a running job's disk use is measured.
const diskCheckInterval = 500 * time.Millisecond

// runGroup starts cmd in its own process group (cmd.SysProcAttr must set
// Setpgid, see childAttrs), copies its stdout and stderr to the given
// writers and waits for the group leader, the script's shell.
//
// The script's own pipe ends are *os.File values read here, not writers
// handed to exec, so waiting ends when the leader exits rather than when
// every process holding the pipe does. At that moment the whole group is
// killed: background processes the script left running (`sleep 600 &`)
// neither outlive the job nor keep it Running. What they wrote is read for
// at most outputDrainDelay more.
//
// While the leader runs, check (if not nil) is called every
// diskCheckInterval; when it returns an error the group is killed and
// killedBy is that error. If ctx ends first the group is killed and
// killedBy is ctx.Err(). The exit code is the leader's (-1 when it was
// killed). err is only a start error.
func runGroup(ctx context.Context, cmd *exec.Cmd, stdout, stderr io.Writer, check func() error) (exit int, killedBy error, err error) {
	pipes, err := attachOutput(cmd, stdout, stderr)
	if err != nil {
		return -1, nil, err
	}
	if err := cmd.Start(); err != nil {
		pipes.closeAll()
		return -1, nil, err
	}
	pipes.started()
	pid := cmd.Process.Pid
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	tick := time.NewTicker(diskCheckInterval)
	defer tick.Stop()
wait:
	for {
		select {
		case <-waited:
			break wait
		case <-ctx.Done():
			killedBy = ctx.Err()
		case <-tick.C:
			if check != nil {
				killedBy = check()
			}
		}
		if killedBy != nil {
			stopLeader(pid, waited)
			break wait
		}
	}
	// Leave nothing behind: background processes of the script die too.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	pipes.drain(outputDrainDelay)
	if killedBy != nil {
		return -1, killedBy, nil
	}
	return cmd.ProcessState.ExitCode(), nil, nil
}

// leaderStopDelay bounds how long the leader (the job wrapper) may take to
// kill the job's processes when asked to stop, before the group is killed.
const leaderStopDelay = 3 * time.Second

// stopLeader asks the group leader, the job wrapper, to stop: it kills
// every process of the job, including those that left the group (setsid),
// which only it can find, then exits. If it has not within leaderStopDelay,
// the group is killed. It returns once the leader has been waited for.
func stopLeader(pid int, waited <-chan error) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-waited:
	case <-time.After(leaderStopDelay):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-waited
	}
}

// outputPipes are the pipes carrying a child's stdout and stderr.
type outputPipes struct {
	readers []*os.File // read here
	writers []*os.File // the child's ends, closed here once it started
	copied  sync.WaitGroup
	dsts    []io.Writer
}

// attachOutput gives cmd a pipe per distinct writer (one when stdout and
// stderr are the same writer, which keeps their lines in order).
func attachOutput(cmd *exec.Cmd, stdout, stderr io.Writer) (*outputPipes, error) {
	p := &outputPipes{}
	add := func(dst io.Writer) (*os.File, error) {
		r, w, err := os.Pipe()
		if err != nil {
			p.closeAll()
			return nil, err
		}
		p.readers = append(p.readers, r)
		p.writers = append(p.writers, w)
		p.dsts = append(p.dsts, dst)
		return w, nil
	}
	w, err := add(stdout)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = w
	if stderr == stdout {
		cmd.Stderr = w
		return p, nil
	}
	if cmd.Stderr, err = add(stderr); err != nil {
		return nil, err
	}
	return p, nil
}

// started closes the parent's copies of the write ends, so that reading
// sees EOF once the child's processes are gone, and starts copying.
func (p *outputPipes) started() {
	for _, w := range p.writers {
		w.Close()
	}
	for i, r := range p.readers {
		p.copied.Add(1)
		go func() {
			defer p.copied.Done()
			_, _ = io.Copy(p.dsts[i], r)
		}()
	}
}

// drain waits for the copies to reach EOF, for at most delay; then it
// closes the read ends, which ends the copies.
func (p *outputPipes) drain(delay time.Duration) {
	done := make(chan struct{})
	go func() {
		p.copied.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(delay):
	}
	for _, r := range p.readers {
		r.Close()
	}
	<-done
}

func (p *outputPipes) closeAll() {
	for _, f := range p.readers {
		f.Close()
	}
	for _, f := range p.writers {
		f.Close()
	}
}
