//go:build !linux

package local

import (
	"fmt"
	"os"
)

// runJobWrapper needs Linux (child subreaper, /proc).
func runJobWrapper(args []string) int {
	fmt.Fprintf(os.Stderr, "%s: local cluster jobs need Linux\n", jobWrapperCommand)
	return 127
}
