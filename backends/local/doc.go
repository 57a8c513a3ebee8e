// Package local is FDL Studio's embedded single-machine cluster: an HTTP
// server that speaks the OSCAR REST API (reference/oscar-openapi.yaml) on
// loopback, on top of a real S3 server, and runs each service's script with
// /bin/sh on this host the way OSCAR's faas-supervisor runs it in a pod.
//
// Storage is versitygw (posix backend, objects are plain files under
// <DataDir>/s3) run as a supervised child process on a loopback port, or an
// existing MinIO server. Upload events reach the cluster through a webhook:
// versitygw posts every bucket's events to one loopback URL and the cluster
// filters them by bucket and key prefix itself; for MinIO the cluster sets
// per-bucket notifications the way OSCAR does.
//
// The container image of a service is recorded but not used: scripts run
// on this machine's shell, so the local cluster is for one trusted user.
package local
