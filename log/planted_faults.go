//go:build paxlogfaults

package log

import "os"

// plantedSkipDedup, set by PAXLOG_BROKEN=skip-dedup in binaries built with
// the paxlogfaults tag only, breaks exactly-once on purpose: a (client, seq)
// already in the dedup table is proposed again and delivered again, so the
// chaos harness can show that its duplicate checker fails.
var plantedSkipDedup = os.Getenv("PAXLOG_BROKEN") == "skip-dedup"
