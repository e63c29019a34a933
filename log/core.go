package log

import (
	"github.com/paxlog/paxlog/paxos"
)

// core is the part of *paxos.Node the owner goroutine drives. Only that
// goroutine calls it.
type core interface {
	Tick()
	Step(m paxos.Message) error
	Propose(data [][]byte) (uint64, error)
	Campaign()
	HasReady() bool
	Ready() paxos.Ready
	Advance(rd paxos.Ready)
	Status() paxos.Status
}

// newCore builds the paxos node; a variable so that nothing else in the
// package depends on how the core is constructed.
var newCore = func(cfg paxos.Config, hs paxos.HardState) (core, error) {
	return paxos.NewNode(cfg, hs)
}
