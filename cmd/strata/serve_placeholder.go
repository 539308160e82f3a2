package main

// TEMPORARY: stands in for the node helper's serve.go until it lands, so this
// package compiles. Deleted as soon as cmd/strata/serve.go exists.

import (
	"context"
	"fmt"
	"io"
)

func runServe(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "strata serve: not built yet")
	return exitError
}
