// Package examples holds sample FDL workflows with their scripts, embedded
// so the dashboard can offer them for deployment.
package examples

import "embed"

// FS holds the sample workflows: wordcount/wordcount.yaml (a two-stage word
// count, then top 10) with its scripts beside it.
//
//go:embed wordcount/*.yaml wordcount/*.sh
var FS embed.FS
