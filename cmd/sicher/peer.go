package main

import (
	"fmt"
	"io"

	"github.com/sicher-go/sicher/cmd/sicher/internal/peer"
)

// runPeer is "sicher peer": the JSON-lines interop driver of docs/peer.md.
func runPeer(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: sicher peer (reads JSON requests, one per line, from stdin; see docs/peer.md)")
		if args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		return 2
	}
	if err := peer.Run(stdin, stdout, peer.Info{Version: version, Revision: vcsRevision()}); err != nil {
		fmt.Fprintln(stderr, "sicher peer:", err)
		return 1
	}
	return 0
}
