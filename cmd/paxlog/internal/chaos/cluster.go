package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	replog "github.com/paxlog/paxlog/log"
	paxnet "github.com/paxlog/paxlog/net"
)

// ClusterConfig describes the replicas a Cluster runs.
type ClusterConfig struct {
	// Binary is the paxlog executable (built with -tags paxlogfaults for
	// the storage fault hooks); required.
	Binary string
	// Nodes is the replica count, 3 or 5. Default 3.
	Nodes int
	// Dir holds every replica's data directory and log file; required.
	Dir string
	// ClusterID is passed as --cluster. Default "chaos".
	ClusterID string
	// Tick is --tick. Default 10ms.
	Tick time.Duration
	// ElectionTicks is --election-ticks. Default 20.
	ElectionTicks int
	// Logf receives harness events (t.Logf). Default: discard.
	Logf func(format string, args ...any)
	// StorageFaults is armed on every start (StorageFaultEnv), before the
	// faults of that start; empty: none. For planted bugs.
	StorageFaults string
}

func (c ClusterConfig) withDefaults() (ClusterConfig, error) {
	if c.Binary == "" || c.Dir == "" {
		return c, fmt.Errorf("chaos: cluster needs Binary (%q) and Dir (%q)", c.Binary, c.Dir)
	}
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.ClusterID == "" {
		c.ClusterID = "chaos"
	}
	if c.Tick == 0 {
		c.Tick = 10 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 20
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c, nil
}

// ElectionTimeout is the longest randomized election timeout of the
// replicas: 2 * ElectionTicks * Tick (serve randomizes in [E/2, E)).
func (c ClusterConfig) ElectionTimeout() time.Duration {
	return 2 * time.Duration(c.ElectionTicks) * c.Tick
}

// Node is one replica: a `paxlog serve` child process (or none while it
// is down), its listen address, data directory and log file.
type Node struct {
	ID     int
	Listen string // the replica's own address; clients dial it directly
	Data   string
	Log    string // stdout and stderr of every incarnation, appended

	cmd    *exec.Cmd
	from   int64         // size of Log when the current process started
	done   chan struct{} // closed when cmd exits
	exit   error
	paused bool
}

// Cluster runs the replicas and the proxy mesh.
type Cluster struct {
	cfg   ClusterConfig
	nodes []*Node          // index id-1
	links map[[2]int]*Link // (from, to)
	mu    sync.Mutex       // guards Node process fields
	logs  map[int]*os.File // per-node log files
}

// StartCluster creates the proxies and starts every replica.
func StartCluster(cfg ClusterConfig) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	c := &Cluster{cfg: cfg, links: map[[2]int]*Link{}, logs: map[int]*os.File{}}
	ports, err := freeAddrs(cfg.Nodes)
	if err != nil {
		return nil, err
	}
	for i := 1; i <= cfg.Nodes; i++ {
		n := &Node{ID: i, Listen: ports[i-1], Data: filepath.Join(cfg.Dir, fmt.Sprintf("node-%d", i)),
			Log: filepath.Join(cfg.Dir, fmt.Sprintf("node-%d.log", i))}
		f, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("chaos: %w", err)
		}
		c.logs[i] = f
		c.nodes = append(c.nodes, n)
	}
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a.ID == b.ID {
				continue
			}
			l, err := NewLink(a.ID, b.ID, b.Listen)
			if err != nil {
				c.Close()
				return nil, err
			}
			c.links[[2]int{a.ID, b.ID}] = l
		}
	}
	cfg.Logf("chaos: %d replicas; partitions through the in-repo fault proxy (one proxy per ordered pair, %d links), not network namespaces",
		cfg.Nodes, len(c.links))
	for _, n := range c.nodes {
		if err := c.Start(n.ID, ""); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Config returns the effective configuration.
func (c *Cluster) Config() ClusterConfig { return c.cfg }

// N is the replica count.
func (c *Cluster) N() int { return len(c.nodes) }

// Node returns replica id (1-based).
func (c *Cluster) Node(id int) *Node { return c.nodes[id-1] }

// Addrs returns every replica's own address, in id order.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Listen
	}
	return out
}

// peersFor is replica id's --peers: itself at its own address, every other
// replica at the proxy id -> other.
func (c *Cluster) peersFor(id int) string {
	parts := make([]string, 0, len(c.nodes))
	for _, n := range c.nodes {
		addr := n.Listen
		if n.ID != id {
			addr = c.links[[2]int{id, n.ID}].Addr()
		}
		parts = append(parts, fmt.Sprintf("%d=%s", n.ID, addr))
	}
	return strings.Join(parts, ",")
}

// Start starts replica id with storage faults armed (StorageFaultEnv,
// after the config's StorageFaults; empty: none). It returns once the
// process runs; use WaitServing to wait for its port.
func (c *Cluster) Start(id int, faults string) error {
	n := c.Node(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("chaos: node %d already running", id)
	}
	cmd := exec.Command(c.cfg.Binary, "serve", "--id", fmt.Sprint(id), "--cluster", c.cfg.ClusterID,
		"--listen", n.Listen, "--peers", c.peersFor(id), "--data", n.Data,
		"--tick", c.cfg.Tick.String(), "--election-ticks", fmt.Sprint(c.cfg.ElectionTicks), "--log-level", "info")
	n.from = fileSize(n.Log)
	spec := strings.Trim(c.cfg.StorageFaults+","+faults, ",")
	env := childEnv()
	if spec != "" {
		env = append(env, StorageFaultEnv+"="+spec)
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = c.logs[id], c.logs[id]
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(c.logs[id], "=== chaos: start node %d faults=%q at %s\n", id, spec, time.Now().UTC().Format(time.RFC3339Nano))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("chaos: start node %d: %w", id, err)
	}
	done := make(chan struct{})
	n.cmd, n.done, n.exit, n.paused = cmd, done, nil, false
	go func() {
		err := cmd.Wait()
		c.mu.Lock()
		n.exit = err
		c.mu.Unlock()
		close(done)
	}()
	return nil
}

// childEnv is the test's environment without PAXLOG_* variables (serve
// reads every flag from PAXLOG_<FLAG>).
func childEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PAXLOG_") {
			out = append(out, kv)
		}
	}
	return out
}

// Since reports whether the log of replica id's current process holds s.
func (c *Cluster) Since(id int, s string) bool {
	n := c.Node(id)
	c.mu.Lock()
	from := n.from
	c.mu.Unlock()
	return hasLine(n.Log, from, s)
}

// Running reports whether replica id has a live process.
func (c *Cluster) Running(id int) bool {
	n := c.Node(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Exited returns a channel closed when the current process of id exits
// (nil when none) and, once closed, its exit error.
func (c *Cluster) Exited(id int) (<-chan struct{}, func() error) {
	n := c.Node(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	return n.done, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		return n.exit
	}
}

// Kill sends SIGKILL to replica id and waits for it to exit; a replica
// already down is fine.
func (c *Cluster) Kill(id int) {
	n := c.Node(id)
	c.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd, n.paused = nil, false
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	fmt.Fprintf(c.logs[id], "=== chaos: killed node %d at %s\n", id, time.Now().UTC().Format(time.RFC3339Nano))
}

// Reap forgets the process of id after it exited by itself.
func (c *Cluster) Reap(id int) {
	c.Kill(id)
}

// Pause sends SIGSTOP; Resume SIGCONT.
func (c *Cluster) Pause(id int) error { return c.signal(id, syscall.SIGSTOP, true) }

// Resume continues a paused replica.
func (c *Cluster) Resume(id int) error { return c.signal(id, syscall.SIGCONT, false) }

// Signal sends sig to replica id's process.
func (c *Cluster) Signal(id int, sig syscall.Signal) error {
	n := c.Node(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("chaos: node %d is down", id)
	}
	return n.cmd.Process.Signal(sig)
}

func (c *Cluster) signal(id int, sig syscall.Signal, paused bool) error {
	n := c.Node(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("chaos: node %d is down", id)
	}
	n.paused = paused
	return n.cmd.Process.Signal(sig)
}

// Wipe removes replica id's data directory; the replica must be down.
func (c *Cluster) Wipe(id int) error {
	if c.Running(id) {
		return fmt.Errorf("chaos: wipe node %d while it runs", id)
	}
	fmt.Fprintf(c.logs[id], "=== chaos: wiped data directory of node %d\n", id)
	return os.RemoveAll(c.Node(id).Data)
}

// Cut cuts the link from -> to (one way).
func (c *Cluster) Cut(from, to int) { c.links[[2]int{from, to}].Cut() }

// CutBoth cuts both directions between a and b.
func (c *Cluster) CutBoth(a, b int) {
	c.Cut(a, b)
	c.Cut(b, a)
}

// HealAll restores every link.
func (c *Cluster) HealAll() {
	for _, l := range c.links {
		l.Heal()
	}
}

// ResumeAll continues every paused replica.
func (c *Cluster) ResumeAll() {
	for _, n := range c.nodes {
		c.mu.Lock()
		p := n.paused && n.cmd != nil
		c.mu.Unlock()
		if p {
			c.Resume(n.ID)
		}
	}
}

// Status asks replica id for its status with a fresh client (nil when it
// does not answer within d).
func (c *Cluster) Status(ctx context.Context, id int, d time.Duration) *paxnet.StatusInfo {
	addr := c.Node(id).Listen
	cl, err := replog.NewClient(replog.ClientConfig{ClusterID: c.cfg.ClusterID, Addrs: []string{addr}, AttemptTimeout: d})
	if err != nil {
		return nil
	}
	defer cl.Close()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	st, err := cl.Status(sctx, addr)
	if err != nil {
		return nil
	}
	return st
}

// WaitServing waits until replica id answers a status request.
func (c *Cluster) WaitServing(ctx context.Context, id int) error {
	for {
		if c.Status(ctx, id, 300*time.Millisecond) != nil {
			return nil
		}
		if !c.Running(id) {
			return fmt.Errorf("chaos: node %d exited while starting (see %s)", id, c.Node(id).Log)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: node %d not serving: %w", id, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close kills every replica and closes every proxy and log file.
func (c *Cluster) Close() error {
	for _, n := range c.nodes {
		c.Kill(n.ID)
	}
	var errs []error
	for _, l := range c.links {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, f := range c.logs {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// freeAddrs returns n loopback addresses whose ports were free a moment
// ago (the replicas bind them; they keep them across restarts).
func freeAddrs(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]string, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("chaos: free port: %w", err)
		}
		ls = append(ls, l)
		out[i] = l.Addr().String()
	}
	return out, nil
}
