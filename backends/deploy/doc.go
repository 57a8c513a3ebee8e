// Package deploy is where FDL functions become backend services and back.
//
// Services maps each functions.oscar entry of an FDL document to the
// backends.Service a backend deploys: legacy spellings migrated to v4.1,
// the top-level storage_providers and clusters merged in (as oscar-cli
// apply does), the script read from the bundle. FDL writes a service back
// as an FDL document, redacted (backends.Redact) and without what the
// cluster generates, so it can be shown, downloaded and deployed again.
//
// The service form and the sample deploy use this mapping; whole-workflow
// deploy (plan, apply) is to build on it here.
package deploy
