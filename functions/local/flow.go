package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/plinth-ai/plinth/shared/flow/cli"
)

// runFlow runs the flow subcommand (see `flow run -h`): one state machine file through
// the embedded executor, with local-sfn's flags and task-override contract.
func runFlow(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return cli.Run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}
