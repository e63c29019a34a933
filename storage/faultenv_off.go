//go:build !paxlogfaults

package storage

import "github.com/hashicorp/go-hclog"

// defaultFS is the operating system's file system. Binaries built with
// -tags paxlogfaults read storage faults from the environment instead
// (faultenv_on.go; the chaos harness only).
func defaultFS(hclog.Logger) FS { return OSFS{} }
