package chaos

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Log lines the harness waits for (written by the paxlog binary).
const (
	crashLine    = "storage fault: crash point"   // storage/faultenv_on.go, before it SIGKILLs itself
	fatalLine    = "stopping after a fatal error" // replog owner loop, fail-stop after a failed persist
	injectedLine = "storage fault: injected"      // storage/faultenv_on.go, an injected fsync or write error
)

// inject applies fault f, keeps it for a hold time and returns a
// description. heal (called next by round) undoes partitions and pauses and
// restarts what is down.
func (r *runner) inject(ctx context.Context, f Fault) (string, error) {
	n := r.cl.N()
	switch f {
	case KillMinority:
		return r.killMinority(ctx)
	case KillAll:
		for id := 1; id <= n; id++ {
			r.cl.Kill(id)
		}
		r.rep.Counts[f.String()]++
		return "all replicas", r.hold(ctx, r.holdTime()/2)
	case Partition:
		shape := partition(r.cl, r.rng)
		r.rep.Counts[f.String()]++
		r.rep.Counts["partition/"+strings.Fields(shape)[0]]++
		return shape, r.hold(ctx, r.holdTime())
	case Pause:
		victims := ids(minority(r.rng, n))
		if l := r.leader(ctx); l != 0 && r.rng.IntN(2) == 0 {
			victims[0] = l
		}
		for _, id := range victims {
			if err := r.cl.Pause(id); err != nil {
				return "", err
			}
		}
		r.rep.Counts[f.String()]++
		return fmt.Sprintf("SIGSTOP %v", victims), r.hold(ctx, r.holdTime())
	case CrashUnsynced:
		return r.crashPoints(ctx, []int{r.rng.IntN(n) + 1}, f)
	case CrashAll:
		all := make([]int, n)
		for i := range all {
			all[i] = i + 1
		}
		return r.crashPoints(ctx, all, f)
	case Wipe:
		id := r.rng.IntN(n) + 1
		r.cl.Kill(id)
		if err := r.cl.Wipe(id); err != nil {
			return "", err
		}
		if err := r.cl.Start(id, ""); err != nil {
			return "", err
		}
		r.rep.Counts[f.String()]++
		return fmt.Sprintf("replica %d", id), r.hold(ctx, r.holdTime())
	case DiskError:
		return r.diskError(ctx)
	case WipeQuorum:
		return r.wipeQuorum(ctx)
	case PowerFail:
		return r.powerFail(ctx)
	}
	return "", fmt.Errorf("chaos: unknown fault %d", f)
}

// killMinority SIGKILLs a minority (half the time including the leader)
// and, when the leader died, measures the time to the first append that
// succeeds afterwards.
func (r *runner) killMinority(ctx context.Context) (string, error) {
	victims := ids(minority(r.rng, r.cl.N()))
	leader := r.leader(ctx)
	if leader != 0 && r.rng.IntN(2) == 0 && !slices.Contains(victims, leader) {
		victims[0] = leader
		slices.Sort(victims)
	}
	killed := time.Now()
	for _, id := range victims {
		r.cl.Kill(id)
	}
	r.rep.Counts[KillMinority.String()] += len(victims)
	r.rep.Counts["kill-minority/events"]++
	desc := fmt.Sprintf("SIGKILL %v", victims)
	if leader == 0 || !slices.Contains(victims, leader) {
		return desc, r.hold(ctx, r.holdTime())
	}
	r.rep.Counts["kill-minority/leader"]++
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		_, err := r.probeAppend(pctx, 300*time.Millisecond)
		if err == nil {
			d := time.Since(killed)
			r.rep.Recovery = append(r.rep.Recovery, d)
			desc += fmt.Sprintf(" (leader %d; first append after %s)", leader, d.Round(time.Millisecond))
			break
		}
		if pctx.Err() != nil {
			r.rep.Recovery = append(r.rep.Recovery, time.Since(killed))
			desc += fmt.Sprintf(" (leader %d; no append succeeded within 20s)", leader)
			break
		}
	}
	return desc, r.hold(ctx, r.cfg.Hold)
}

// crashPoints restarts each victim armed with a crash point a few fsyncs
// ahead and waits until each has crashed (losing its unsynced writes).
func (r *runner) crashPoints(ctx context.Context, victims []int, f Fault) (string, error) {
	var parts []string
	offsets := map[int]int64{}
	for _, id := range victims {
		r.cl.Kill(id)
		offsets[id] = fileSize(r.cl.Node(id).Log)
		at := 5 + r.rng.IntN(120) // enough fsyncs for appends to be acknowledged in between
		if err := r.cl.Start(id, fmt.Sprintf("crash@%d", at)); err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%d@%d", id, at))
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for _, id := range victims {
		exited, _ := r.cl.Exited(id)
		select {
		case <-exited:
		case <-wctx.Done():
		}
		if hasLine(r.cl.Node(id).Log, offsets[id], crashLine) {
			r.rep.Counts[f.String()]++
		} else {
			r.rep.Missed[f.String()]++
			parts = append(parts, fmt.Sprintf("(%d: crash point not reached)", id))
		}
		r.cl.Kill(id)
	}
	return "crash points " + strings.Join(parts, " "), nil
}

// diskError restarts a replica armed with an fsync or write error and waits
// until it reports the fail-stop (or exits).
func (r *runner) diskError(ctx context.Context) (string, error) {
	id := r.rng.IntN(r.cl.N()) + 1
	// Two fsync errors for every write error, in a fixed cycle, so that any
	// run of five disk errors holds at least three fsync errors.
	kinds := []string{"fsync-eio", "fsync-enospc", "write-eio", "fsync-eio", "fsync-enospc", "write-enospc"}
	spec := fmt.Sprintf("%s@%d", kinds[r.diskErrors%len(kinds)], 2+r.rng.IntN(20))
	r.diskErrors++
	r.cl.Kill(id)
	off := fileSize(r.cl.Node(id).Log)
	if err := r.cl.Start(id, spec); err != nil {
		return "", err
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	exited, _ := r.cl.Exited(id)
	for !hasLine(r.cl.Node(id).Log, off, fatalLine) {
		select {
		case <-exited:
		case <-wctx.Done():
		case <-time.After(20 * time.Millisecond):
			continue
		}
		break
	}
	desc := fmt.Sprintf("replica %d armed with %s", id, spec)
	injected := hasLine(r.cl.Node(id).Log, off, injectedLine)
	switch {
	case injected && hasLine(r.cl.Node(id).Log, off, fatalLine):
		r.rep.Counts[DiskError.String()]++
		r.rep.Counts["disk-error/"+strings.Split(spec, "@")[0]]++
		select { // serve should exit after the fail-stop; give it a moment
		case <-exited:
		case <-time.After(3 * time.Second):
		}
		if r.cl.Running(id) {
			desc += "; stopped (process kept running: no exit on a fatal error)"
			r.rep.Counts["disk-error/kept-running"]++
		} else {
			desc += "; stopped and exited"
		}
	case injected && !r.cl.Running(id):
		// The error hit while opening the data directory: serve refused to start.
		r.rep.Counts[DiskError.String()]++
		r.rep.Counts["disk-error/"+strings.Split(spec, "@")[0]]++
		r.rep.Counts["disk-error/refused-start"]++
		desc += "; refused to start"
	default:
		r.rep.Missed[DiskError.String()]++
		desc += "; error not reached"
	}
	r.cl.Kill(id)
	return desc, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// hasLine reports whether the file holds s after offset.
func hasLine(path string, offset int64, s string) bool {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return false
	}
	return strings.Contains(string(b[offset:]), s)
}

// wipeQuorum is the scenario wipe protection exists for (3 replicas): B is
// isolated while A (the leader) and C acknowledge appends; then A is
// killed, C loses its data directory and restarts, and B's links heal. B
// and C are a majority, but C forgot every promise and accept. A replica
// that votes again before it has re-learned the log lets B choose other
// values in slots A and C had chosen: acknowledged appends are lost. With
// wipe protection, B and C make no progress until A is back.
func (r *runner) wipeQuorum(ctx context.Context) (string, error) {
	n := r.cl.N()
	a := r.leader(ctx)
	if a == 0 {
		a = r.rng.IntN(n) + 1
	}
	others := []int{}
	for id := 1; id <= n; id++ {
		if id != a {
			others = append(others, id)
		}
	}
	b, c := others[0], others[1]
	if r.rng.IntN(2) == 0 {
		b, c = c, b
	}
	for id := 1; id <= n; id++ {
		if id != b {
			r.cl.CutBoth(b, id)
		}
	}
	if err := r.hold(ctx, r.holdTime()); err != nil {
		return "", err
	}
	r.cl.Kill(a)
	r.cl.Kill(c)
	if err := r.cl.Wipe(c); err != nil {
		return "", err
	}
	if err := r.cl.Start(c, ""); err != nil {
		return "", err
	}
	r.cl.HealAll()
	r.rep.Counts[WipeQuorum.String()]++
	desc := fmt.Sprintf("isolated %d, acknowledged through %d+%d, killed %d, wiped %d, healed %d", b, a, c, a, c, b)
	// Give B and C the time to elect and accept appends without A.
	pctx, cancel := context.WithTimeout(ctx, 3*r.cfg.Hold+2*time.Second)
	defer cancel()
	if _, err := r.probeAppend(pctx, 3*r.cfg.Hold+2*time.Second); err == nil {
		desc += "; B and C acknowledged an append without A"
	} else {
		desc += "; no progress without A"
	}
	return desc, nil
}

// powerFail crashes every replica at once through its SIGUSR1 crash point
// (replicas must be started with "crash-on-usr1" armed): every write not
// yet fsynced is lost on every replica, as in a power failure of the
// whole cluster.
func (r *runner) powerFail(ctx context.Context) (string, error) {
	n := r.cl.N()
	offsets := make([]int64, n+1)
	for id := 1; id <= n; id++ {
		offsets[id] = fileSize(r.cl.Node(id).Log)
	}
	for id := 1; id <= n; id++ {
		if err := r.cl.Signal(id, syscall.SIGUSR1); err != nil {
			return "", err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	crashed := 0
	for id := 1; id <= n; id++ {
		exited, _ := r.cl.Exited(id)
		select {
		case <-exited:
		case <-wctx.Done():
		}
		if hasLine(r.cl.Node(id).Log, offsets[id], crashLine) {
			crashed++
		}
		r.cl.Kill(id)
	}
	if crashed == n {
		r.rep.Counts[PowerFail.String()]++
	} else {
		r.rep.Missed[PowerFail.String()]++
	}
	return fmt.Sprintf("%d of %d replicas crashed losing unsynced writes", crashed, n), nil
}
