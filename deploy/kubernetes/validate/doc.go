// Package validate checks deploy/kubernetes/strata.yaml: every document
// decodes strictly (no unknown or duplicate fields) into the upstream
// Kubernetes API types, the objects fit together (selectors, ports,
// probes, volumes, the disruption budget), and the ConfigMap's strata.toml,
// with the Secret's tokens appended as the init container does, is a
// configuration Strata's own parser and validator accept, with every data
// directory on one of the pod's volumes and the memory limits consistent
// with the memory limit the node will log.
//
// It is a separate module so that the node's go.mod does not carry the
// Kubernetes dependency tree; it imports strata through a replace
// directive. Run it with (cd deploy/kubernetes/validate && go test -mod=mod ./...):
// -mod=mod lets go.mod follow the node module's dependencies when they
// change, without a tidy here first.
package validate
