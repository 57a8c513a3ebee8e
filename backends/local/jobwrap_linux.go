package local

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER, linux/prctl.h

// runJobWrapper is the job wrapper's main. args are the limits, "--" and
// the command (the shell and the script). It returns the script's exit
// status, or 128+signal when a signal ended it.
func runJobWrapper(args []string) int {
	sep := -1
	for i, a := range args {
		if a == "--" {
			sep = i
			break
		}
	}
	if sep < 0 || sep == len(args)-1 {
		fmt.Fprintf(os.Stderr, "%s: want LIMITS -- COMMAND\n", jobWrapperCommand)
		return 127
	}
	limits, err := parseLimitArgs(args[:sep])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", jobWrapperCommand, err)
		return 127
	}
	// Orphans of the script (a daemon, a setsid child) become our
	// children instead of init's, so they can be found and killed.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		fmt.Fprintf(os.Stderr, "%s: prctl(PR_SET_CHILD_SUBREAPER): %v\n", jobWrapperCommand, errno)
		return 127
	}
	argv, err := withLimits(limits, args[sep+1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", jobWrapperCommand, err)
		return 127
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = withoutEnv(os.Environ(), gatewayChildEnv)
	cmd.Stdin = nil
	cmd.Stdout = os.Stdout
	// The script's stderr passes through a scanner that recognises an
	// allocation refused by the memory limit.
	pr, pw, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", jobWrapperCommand, err)
		return 127
	}
	cmd.Stderr = pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: start %s: %v\n", jobWrapperCommand, args[sep+1], err)
		return 127
	}
	pw.Close()
	var memHit bool
	var scanned sync.WaitGroup
	scanned.Add(1)
	go func() {
		defer scanned.Done()
		memHit = copyScanningForENOMEM(os.Stderr, pr)
	}()
	waited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(waited)
	}()
	stopped := false
	select {
	case <-waited:
	case <-sigs:
		stopped = true
		killTree(cmd.Process.Pid, false)
		<-waited
	}
	// Whatever the script left running goes with it.
	killTree(cmd.Process.Pid, true)
	done := make(chan struct{})
	go func() { scanned.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	pr.Close()

	st := cmd.ProcessState
	if stopped {
		return 143
	}
	code := st.ExitCode()
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
		switch ws.Signal() {
		case syscall.SIGXCPU:
			fmt.Fprintf(os.Stderr, "The job hit its CPU time limit of %d seconds and was killed.\n", limits.CPUSeconds)
		case syscall.SIGXFSZ:
			fmt.Fprintf(os.Stderr, "The job hit its file size limit of %d bytes and was killed.\n", limits.FileBytes)
		}
	}
	if code != 0 && memHit && limits.MemoryBytes > 0 {
		fmt.Fprintf(os.Stderr, "The job hit its memory limit of %d bytes (address space per process): an allocation was refused.\n", limits.MemoryBytes)
	}
	return code
}

// withLimits prefixes argv with prlimit(1) setting the limits, which
// applies them to the script's shell and so to everything it starts. (The
// wrapper itself, a Go program with a large address space reserved, must
// not run under them.) The CPU limit is soft, with a hard limit 5 seconds
// later, so the script gets SIGXCPU, which names the limit, before SIGKILL.
func withLimits(l JobLimits, argv []string) ([]string, error) {
	var opts []string
	if l.CPUSeconds > 0 {
		opts = append(opts, fmt.Sprintf("--cpu=%d:%d", l.CPUSeconds, l.CPUSeconds+5))
	}
	if l.MemoryBytes > 0 {
		opts = append(opts, fmt.Sprintf("--as=%d", l.MemoryBytes))
	}
	if l.Processes > 0 {
		opts = append(opts, fmt.Sprintf("--nproc=%d", l.Processes))
	}
	if l.FileBytes > 0 {
		opts = append(opts, fmt.Sprintf("--fsize=%d", l.FileBytes))
	}
	if len(opts) == 0 {
		return argv, nil
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		return nil, fmt.Errorf("the job has resource limits but prlimit (util-linux) is not installed: %w", err)
	}
	return append(append(append([]string{prlimit}, opts...), "--"), argv...), nil
}

// enomemMarkers are what shells and common runtimes print when an
// allocation fails.
var enomemMarkers = []string{"Cannot allocate memory", "memory exhausted", "Out of memory", "out of memory", "MemoryError", "bad_alloc"}

// copyScanningForENOMEM copies r to w line by line and reports whether a
// line said an allocation failed.
func copyScanningForENOMEM(w io.Writer, r io.Reader) bool {
	hit := false
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			w.Write(line)
			if !hit {
				for _, m := range enomemMarkers {
					if strings.Contains(string(line), m) {
						hit = true
						break
					}
				}
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return hit
		}
	}
}

// killTree kills the script's process group and then, until none is left,
// every child of this process: orphans were reparented to it, since it is
// their subreaper. With reap, each round also reaps them (only once the
// script itself has been waited for: reaping any child could take its
// status from exec's Wait); without, it makes one round.
func killTree(pgid int, reap bool) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	self := os.Getpid()
	for range 200 {
		kids := childrenOf(self)
		for _, pid := range kids {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if !reap {
			return
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
		if len(kids) == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// childrenOf lists the processes whose parent is ppid (zombies included).
func childrenOf(ppid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 {
			if p, err := strconv.Atoi(f[1]); err == nil && p == ppid {
				out = append(out, pid)
			}
		}
	}
	return out
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}
