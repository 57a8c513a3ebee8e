package local

import "testing"

// StartForTest starts a cluster for external tests (package local_test).
func StartForTest(t *testing.T) *Cluster { return startCluster(t, Config{}) }
