package main

import "context"

func runBench(ctx context.Context, s stdio, args []string) int { return exitError }
