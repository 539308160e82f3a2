//go:build !strata_cluster

package main

import (
	"context"
	"errors"
	"log/slog"

	"strata/node"
	"strata/tiering"
)

// errNoClusterBuild: this binary was built without the cluster wiring.
var errNoClusterBuild = errors.New("cluster mode is not in this build")

// clusterBuilt reports whether cluster mode is wired in.
const clusterBuilt = false

// clusterRuntime stands in for the cluster side when it is not built.
type clusterRuntime struct{}

func startCluster(context.Context, node.Config, *node.Server, *tiering.Store, string, func(), *slog.Logger) (*clusterRuntime, node.Store, error) {
	return nil, nil, errNoClusterBuild
}

func (*clusterRuntime) close() error { return nil }
