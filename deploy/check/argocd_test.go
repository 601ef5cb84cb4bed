package check

import (
	"os"
	"path/filepath"
	"testing"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// application mirrors the fields of argoproj.io/v1alpha1 Application that
// deploy/argocd uses (from ArgoCD's CRD). ArgoCD's own Go module is too large
// to import here; decoding strictly into this subset still catches a
// misspelt or misplaced field among those.
type application struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name       string   `json:"name"`
		Namespace  string   `json:"namespace"`
		Finalizers []string `json:"finalizers"`
	} `json:"metadata"`
	Spec struct {
		Project string `json:"project"`
		Source  struct {
			RepoURL        string `json:"repoURL"`
			TargetRevision string `json:"targetRevision"`
			Path           string `json:"path"`
			Helm           struct {
				ReleaseName string   `json:"releaseName"`
				ValueFiles  []string `json:"valueFiles"`
			} `json:"helm"`
		} `json:"source"`
		Destination struct {
			Server    string `json:"server"`
			Namespace string `json:"namespace"`
		} `json:"destination"`
		SyncPolicy struct {
			Automated *struct {
				Prune    bool `json:"prune"`
				SelfHeal bool `json:"selfHeal"`
			} `json:"automated"`
			SyncOptions []string `json:"syncOptions"`
			Retry       struct {
				Limit   int `json:"limit"`
				Backoff struct {
					Duration    string `json:"duration"`
					Factor      int    `json:"factor"`
					MaxDuration string `json:"maxDuration"`
				} `json:"backoff"`
			} `json:"retry"`
		} `json:"syncPolicy"`
		IgnoreDifferences []struct {
			Group        string   `json:"group"`
			Kind         string   `json:"kind"`
			JSONPointers []string `json:"jsonPointers"`
		} `json:"ignoreDifferences"`
	} `json:"spec"`
}

func TestArgoCDApplication(t *testing.T) {
	files, _ := filepath.Glob("../argocd/*.yaml")
	if len(files) == 0 {
		t.Fatal("no ArgoCD Application in deploy/argocd")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSONStrict(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var app application
		strict, err := kjson.UnmarshalStrict(js, &app)
		if err != nil || len(strict) > 0 {
			t.Fatalf("%s: %v %v", f, err, strict)
		}
		if app.APIVersion != "argoproj.io/v1alpha1" || app.Kind != "Application" {
			t.Errorf("%s: %s %s", f, app.APIVersion, app.Kind)
		}
		if rev := app.Spec.Source.TargetRevision; !pinnedRevision.MatchString(rev) {
			t.Errorf("%s: targetRevision %q is not a release tag or commit sha", f, rev)
		}
		if a := app.Spec.SyncPolicy.Automated; a == nil || !a.Prune || !a.SelfHeal {
			t.Errorf("%s: automated sync without prune and selfHeal", f)
		}
		if _, err := os.Stat(filepath.Join("..", "..", app.Spec.Source.Path, "Chart.yaml")); err != nil {
			t.Errorf("%s: path %s is not the chart: %v", f, app.Spec.Source.Path, err)
		}
		for _, v := range app.Spec.Source.Helm.ValueFiles {
			if _, err := os.Stat(filepath.Join("..", "..", app.Spec.Source.Path, v)); err != nil {
				t.Errorf("%s: values file %s: %v", f, v, err)
			}
		}
	}
}
