package main

import (
	"fmt"
	"os"
)

// runFlow runs the flow subcommand.
func runFlow(args []string) int {
	fmt.Fprintln(os.Stderr, "flow: the embedded executor is not wired in this build")
	return 2
}
