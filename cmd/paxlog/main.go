// Command paxlog runs and operates paxlog replicas.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "paxlog: the command line is not built yet; see README.md for status")
	return 2
}
