package local

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// logTimeLayout is the timestamp written at the start of each stored log
// line; GET /system/logs/{svc}/{job}?timestamps=true returns it, otherwise
// it is stripped.
const logTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// logWriter stores a job's combined stdout and stderr, one timestamped line
// at a time, and stops (with a note) once max bytes have been written.
// It is safe for concurrent use by the two streams.
type logWriter struct {
	mu        sync.Mutex
	f         *os.File
	max       int64
	written   int64
	truncated bool
	partial   []byte
	now       func() time.Time
	// onLine, when set, is told of each line written (watch.go).
	onLine func()
}

func newLogWriter(path string, max int64) (*logWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open job log: %w", err)
	}
	return &logWriter{f: f, max: max, now: time.Now}, nil
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) >= 64<<10 {
		w.line(w.partial)
		w.partial = w.partial[:0]
	}
	return len(p), nil
}

// Printf writes one line of the runtime's own messages.
func (w *logWriter) Printf(format string, args ...any) {
	fmt.Fprintf(w, "[local] "+format+"\n", args...)
}

func (w *logWriter) line(b []byte) {
	if w.truncated {
		return
	}
	b = bytes.TrimSuffix(b, []byte("\r"))
	if w.max > 0 && w.written+int64(len(b)) > w.max {
		w.truncated = true
		fmt.Fprintf(w.f, "%s [local] log truncated: it exceeded %d bytes\n", w.now().UTC().Format(logTimeLayout), w.max)
		return
	}
	n, _ := fmt.Fprintf(w.f, "%s %s\n", w.now().UTC().Format(logTimeLayout), b)
	w.written += int64(n)
	if w.onLine != nil {
		w.onLine()
	}
}

// Close flushes a trailing partial line and closes the file.
func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.line(w.partial)
		w.partial = nil
	}
	return w.f.Close()
}

// copyLog copies a stored log to dst, keeping or stripping timestamps.
func copyLog(dst io.Writer, src io.Reader, timestamps bool) error {
	if timestamps {
		_, err := io.Copy(dst, src)
		return err
	}
	r := bufio.NewReaderSize(src, 64<<10)
	bw := bufio.NewWriter(dst)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			if _, rest, ok := strings.Cut(line, " "); ok {
				line = rest
			}
			bw.WriteString(line)
		}
		if err == io.EOF {
			return bw.Flush()
		}
		if err != nil {
			bw.Flush()
			return err
		}
	}
}
