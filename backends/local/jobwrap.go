package local

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// jobWrapperCommand is the hidden sub-command under which this program runs
// between the server and a job's script (see runJobWrapper): it makes
// itself the child subreaper of the script's process tree, applies the
// job's resource limits, and kills every process the script left (even one
// that called setsid) when the script ends or the job is stopped. Like
// gatewayCommand it also needs gatewayChildEnv set to its name.
const jobWrapperCommand = "internal-job-wrapper"

// JobLimits are the resource limits of one job's processes (setrlimit;
// each process of the job gets them, and the process count is the kernel's
// per-user count). Zero means no limit.
type JobLimits struct {
	// CPUSeconds bounds the CPU time of each process (RLIMIT_CPU):
	// SIGXCPU, then SIGKILL.
	CPUSeconds int64
	// MemoryBytes bounds each process's address space (RLIMIT_AS): an
	// allocation over it fails.
	MemoryBytes int64
	// Processes bounds the processes and threads of the user running the
	// job (RLIMIT_NPROC; the kernel does not enforce it for root).
	Processes int64
	// FileBytes bounds the size of any file the job writes (RLIMIT_FSIZE):
	// SIGXFSZ.
	FileBytes int64
}

// args renders the limits as the wrapper's arguments.
func (l JobLimits) args() []string {
	return []string{
		"cpu=" + strconv.FormatInt(l.CPUSeconds, 10),
		"as=" + strconv.FormatInt(l.MemoryBytes, 10),
		"nproc=" + strconv.FormatInt(l.Processes, 10),
		"fsize=" + strconv.FormatInt(l.FileBytes, 10),
	}
}

// parseLimitArgs reads what args wrote.
func parseLimitArgs(args []string) (JobLimits, error) {
	var l JobLimits
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil || n < 0 {
			return l, fmt.Errorf("limit %q is not name=non-negative number", a)
		}
		switch k {
		case "cpu":
			l.CPUSeconds = n
		case "as":
			l.MemoryBytes = n
		case "nproc":
			l.Processes = n
		case "fsize":
			l.FileBytes = n
		default:
			return l, fmt.Errorf("unknown limit %q", k)
		}
	}
	return l, nil
}

// jobCommand builds the command running a job's script: the wrapper (this
// executable) with the limits, inside bubblewrap when sandbox is set.
func (c *Cluster) jobCommand(work, script string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program's executable for the job wrapper: %w", err)
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		return nil, fmt.Errorf("find this program's executable for the job wrapper: %w", err)
	}
	limits := JobLimits{}
	if c.cfg.Sandbox {
		limits = c.cfg.Limits
	}
	wrapped := append([]string{exe, jobWrapperCommand}, limits.args()...)
	wrapped = append(wrapped, "--", c.cfg.Shell, script)
	if !c.cfg.Sandbox {
		return exec.Command(wrapped[0], wrapped[1:]...), nil
	}
	args := append(bwrapArgs(work, exe), wrapped...)
	return exec.Command(c.bwrap, args...), nil
}

// bwrapArgs are bubblewrap's options for a job: new PID, IPC and UTS
// namespaces (the job sees no other process), a private /tmp, /proc and
// /dev of its own, the system dirs read-only, and of the rest of the file
// system only its working dir (read-write) and the wrapper. The network is
// shared: scripts download their inputs and tools.
func bwrapArgs(work, exe string) []string {
	a := []string{
		"--die-with-parent", "--new-session",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
	}
	for _, d := range []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt"} {
		a = append(a, "--ro-bind-try", d, d)
	}
	// Of /etc only what programs need to run and reach the network: not
	// the host's secrets (shadow, ssh keys, ...).
	for _, f := range []string{"passwd", "group", "hosts", "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf",
		"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "ca-certificates", "ca-certificates.conf",
		"localtime", "timezone", "mime.types", "debian_version", "os-release", "protocols", "services"} {
		a = append(a, "--ro-bind-try", "/etc/"+f, "/etc/"+f)
	}
	return append(a,
		"--ro-bind", exe, exe,
		"--bind", work, work,
		"--chdir", work,
		"--",
	)
}

// FindBwrap returns the path of bubblewrap, or an error saying how to get
// it.
func FindBwrap() (string, error) {
	p, err := exec.LookPath("bwrap")
	if err != nil {
		return "", fmt.Errorf("bubblewrap (bwrap) is not installed, and the local cluster sandboxes jobs in multi-user mode: install it (Debian/Ubuntu: apt-get install bubblewrap) or turn the local cluster off: %w", err)
	}
	return p, nil
}
