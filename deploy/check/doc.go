// Package check holds the deployment checks that run in CI without a cluster:
// the Helm chart in deploy/helm/boxoffice rendered with helm and every
// manifest decoded strictly (unknown, duplicate or miscased fields fail) into
// the Kubernetes API types, plus rules the chart must keep (pinned images,
// limits, probes, non-root, drain timing, selectors that cannot collide), the
// ArgoCD Application, and the Dockerfile's shape.
//
// It is its own module so that k8s.io/api and friends never enter the
// service's dependency list. Run it with
//
//	cd deploy/check && go test ./...
//
// It needs helm on PATH (or HELM=/path/to/helm) and skips, with a message,
// without it; .ci/run builds helm and fails if these tests skip.
package check
