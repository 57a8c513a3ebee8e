// Package deploy is where FDL functions become backend services and back.
//
// Services maps each functions.oscar entry of an FDL document to the
// backends.Service a backend deploys: legacy spellings migrated to v4.1,
// the top-level storage_providers and clusters merged in (as oscar-cli
// apply does), the script read from the bundle. FDL writes a service back
// as an FDL document, redacted (backends.Redact) and without what the
// cluster generates, so it can be shown, downloaded and deployed again.
//
// The service form and the sample deploy use this mapping, and so does
// whole-workflow deploy (Engine):
//
//   - Plan reads what each cluster has and gives an action per function
//     (create; update with a field-by-field Diff of Comparable forms;
//     unchanged; delete for what an earlier deployment created and the
//     workflow dropped), the FDL cluster ids no registered cluster is given
//     for, and the side effects: storage created, buckets a deletion wipes
//     and who else uses them, visibility changes, loops, S3 notifications
//     added or removed.
//   - functions.aws entries (AWSFunctions) are planned and applied the
//     same way, under the FDL cluster id "aws" (or "aws-REGION"), mapped
//     like any other to a registered AWS account (backends/scar): each
//     carries its whole entry, compared field by field. Each service carries only the
//     credentials it refers to (ForCluster).
//   - Apply runs a plan with bounded parallelism per cluster, deletions
//     first and producers before their readers, journaling each function
//     (Journal, store/sqlite) so that an interrupted apply converges when
//     planned and applied again and Rollback can restore what it changed.
//   - Drift compares a recorded deployment with its clusters; Adopt writes
//     the cluster's version as FDL.
//   - Deploy is the command line's `fdlstudio deploy` (exit codes 0/1/2)
//     and RenderPlan its plain-text plan.
//
// The engine reaches clusters only through a ClusterResolver the caller
// builds (from the backend registry), never the registry itself.
package deploy
