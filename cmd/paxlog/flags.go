package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"

	replog "github.com/paxlog/paxlog/log"
	paxnet "github.com/paxlog/paxlog/net"
)

// Defaults shared by dev and the client commands: with no --addr a client
// talks to the cluster `paxlog dev` starts with its defaults.
const (
	defaultCluster  = "paxlog"
	defaultDevPort  = 7001
	defaultDevNodes = 3
)

func defaultDevAddrs() []string {
	return devAddrs("127.0.0.1", defaultDevPort, defaultDevNodes)
}

func devAddrs(host string, port, nodes int) []string {
	out := make([]string, nodes)
	for i := range out {
		out[i] = fmt.Sprintf("%s:%d", host, port+i)
	}
	return out
}

// logFlags are --log-level and --log-json.
type logFlags struct {
	level string
	json  bool
}

func (l *logFlags) register(fs *pflag.FlagSet, level string) {
	fs.StringVar(&l.level, "log-level", level, "log level: trace, debug, info, warn, error, off")
	fs.BoolVar(&l.json, "log-json", false, "log JSON lines instead of text")
}

// logger returns the process logger, named "paxlog", writing to stderr.
func (l *logFlags) logger(c *cli) (hclog.Logger, error) {
	lvl := hclog.LevelFromString(l.level)
	if lvl == hclog.NoLevel {
		return nil, usagef("invalid --log-level %q: want trace, debug, info, warn, error or off", l.level)
	}
	return hclog.New(&hclog.LoggerOptions{Name: "paxlog", Level: lvl, JSONFormat: l.json,
		Output: c.stderr, TimeFormat: "2006-01-02T15:04:05.000Z07:00"}), nil
}

// tlsFlags are --tls-cert, --tls-key and --tls-ca: all three or none.
type tlsFlags struct{ cert, key, ca string }

func (t *tlsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&t.cert, "tls-cert", "", "PEM certificate for mutual TLS (with --tls-key and --tls-ca; none: plaintext)")
	fs.StringVar(&t.key, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&t.ca, "tls-ca", "", "PEM CA bundle that signs every replica and client")
}

func (t *tlsFlags) config() (*paxnet.TLSConfig, error) {
	set := 0
	for _, v := range []string{t.cert, t.key, t.ca} {
		if v != "" {
			set++
		}
	}
	switch set {
	case 0:
		return nil, nil
	case 3:
		return &paxnet.TLSConfig{CertFile: t.cert, KeyFile: t.key, CAFile: t.ca}, nil
	}
	return nil, usagef("--tls-cert, --tls-key and --tls-ca go together (got cert=%q key=%q ca=%q)", t.cert, t.key, t.ca)
}

// clientFlags are the flags of every command that talks to a cluster.
type clientFlags struct {
	addrs   []string
	cluster string
	timeout time.Duration
	tls     tlsFlags
	log     logFlags
}

func (f *clientFlags) register(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.addrs, "addr", defaultDevAddrs(), "replica addresses, comma separated (any subset; the leader is found from redirects)")
	fs.StringVar(&f.cluster, "cluster", defaultCluster, "cluster name")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "give up when no leader or no replica answers within this time")
	f.tls.register(fs)
	f.log.register(fs, "warn")
}

// client validates the flags and returns a Client and the logger.
func (f *clientFlags) client(c *cli) (*replog.Client, hclog.Logger, error) {
	logger, err := f.log.logger(c)
	if err != nil {
		return nil, nil, err
	}
	if len(f.addrs) == 0 {
		return nil, nil, usagef("--addr is empty")
	}
	if f.timeout <= 0 {
		return nil, nil, usagef("--timeout must be positive, got %s", f.timeout)
	}
	tc, err := f.tls.config()
	if err != nil {
		return nil, nil, err
	}
	attempt := min(replog.DefaultAttemptTimeout, f.timeout/2)
	cl, err := replog.NewClient(replog.ClientConfig{ClusterID: f.cluster, Addrs: f.addrs, TLS: tc,
		AttemptTimeout: attempt, Logger: logger.Named("client")})
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	return cl, logger, nil
}

// explain turns a client error into errNoReplica or errNoLeader when the
// cluster was unavailable, by probing whether any address answers a
// handshake.
func (f *clientFlags) explain(err error) error {
	if err == nil || !(errors.Is(err, replog.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	tc, _ := f.tls.config()
	var probs []string
	for _, a := range f.addrs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, derr := paxnet.Dial(ctx, a, paxnet.ClientConfig{ClusterID: f.cluster, TLS: tc})
		cancel()
		if derr == nil {
			conn.Close()
			return fmt.Errorf("%w (--timeout %s; replica %s answers): %v", errNoLeader, f.timeout, a, err)
		}
		probs = append(probs, derr.Error())
	}
	return fmt.Errorf("%w at %s: %s", errNoReplica, strings.Join(f.addrs, ","), strings.Join(probs, "; "))
}
