//go:build !paxlogfaults

package log

// plantedSkipDedup is a planted bug for the chaos harness (issue 8); it
// exists only in binaries built with the paxlogfaults tag.
const plantedSkipDedup = false
