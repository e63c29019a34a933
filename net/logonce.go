package net

import (
	"net"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// refusalLog logs a refused connection at WARN the first time a (remote
// host, reason) pair is seen and at DEBUG afterwards, so a misconfigured
// node redialing every few seconds is reported once, not forever. It
// remembers at most refusalMemory pairs.
type refusalLog struct {
	log  hclog.Logger
	mu   sync.Mutex
	seen map[string]struct{}
}

const refusalMemory = 1024

func (r *refusalLog) refused(remote string, err error) {
	host, _, splitErr := net.SplitHostPort(remote)
	if splitErr != nil {
		host = remote
	}
	key := host + "\x00" + err.Error()
	r.mu.Lock()
	_, dup := r.seen[key]
	if !dup {
		if r.seen == nil || len(r.seen) >= refusalMemory {
			r.seen = make(map[string]struct{})
		}
		r.seen[key] = struct{}{}
	}
	r.mu.Unlock()
	if dup {
		r.log.Debug("connection refused again", "remote", remote, "error", err)
		return
	}
	r.log.Warn("connection refused", "remote", remote, "error", err)
}
