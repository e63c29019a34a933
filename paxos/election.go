package paxos

// electionState holds the election timer. A follower or candidate that
// hears no leader for electionTimeout ticks, a random number in
// [ElectionTicks, 2*ElectionTicks) drawn from cfg.Rand, starts phase 1.
type electionState struct {
	electionElapsed int
	electionTimeout int
}

func (n *Node) resetElectionTimer() {
	n.electionElapsed = 0
	n.electionTimeout = n.cfg.ElectionTicks + n.cfg.Rand.IntN(n.cfg.ElectionTicks)
}

// becomeFollower drops any candidacy or leadership; leader is the node we
// now follow (0: unknown).
func (n *Node) becomeFollower(leader NodeID) {
	if n.role == Leader {
		n.log.Info("no longer leader", "ballot", n.ballot.String())
	}
	n.resetProposer()
	n.role, n.leader = Follower, leader
	n.resetElectionTimer()
}

// tickElection runs the role's timers: the leader's heartbeats, resends and
// check-quorum; a candidate's Prepare resends; everyone else's election
// timeout.
func (n *Node) tickElection() {
	n.leaderAgo++
	if n.role == Leader {
		n.tickLeader()
		return
	}
	n.electionElapsed++
	if n.electionElapsed >= n.electionTimeout {
		n.campaign()
		return
	}
	if n.role == Candidate {
		if n.p1.resend++; n.p1.resend >= n.cfg.ResendTicks {
			n.sendPrepares()
		}
	}
}
