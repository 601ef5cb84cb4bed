package check

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest: its source (for messages), its kind and
// the typed value (*appsv1.Deployment, *corev1.Service, …).
type Object struct {
	Source string
	Kind   string
	Name   string
	Value  any
}

// newTyped returns an empty value of the API type for apiVersion and kind,
// or nil when the chart is not expected to produce that kind.
func newTyped(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Service":
		return &corev1.Service{}
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "batch/v1 Job":
		return &batchv1.Job{}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}
	}
	return nil
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// Decode splits a multi-document YAML stream (helm template output) and
// decodes every document strictly into its API type. It fails on a kind the
// chart should not produce (a Secret included), on YAML with duplicate keys,
// and on any field the type does not have, compared case-sensitively.
func Decode(stream []byte) ([]Object, error) {
	var objs []Object
	var errs []error
	for _, doc := range docSeparator.Split(string(stream), -1) {
		source := "(unknown source)"
		if m := regexp.MustCompile(`(?m)^# Source: (.+)$`).FindStringSubmatch(doc); m != nil {
			source = m[1]
		}
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		obj, err := DecodeOne([]byte(doc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			continue
		}
		obj.Source = source
		objs = append(objs, obj)
	}
	return objs, errors.Join(errs...)
}

// DecodeOne decodes a single YAML document strictly (see Decode).
func DecodeOne(doc []byte) (Object, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return Object{}, fmt.Errorf("yaml: %w", err)
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return Object{}, fmt.Errorf("type meta: %w", err)
	}
	v := newTyped(tm.APIVersion, tm.Kind)
	if v == nil {
		return Object{}, fmt.Errorf("unexpected object %s %s", tm.APIVersion, tm.Kind)
	}
	strict, err := kjson.UnmarshalStrict(js, v)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strict) > 0 {
		return Object{}, fmt.Errorf("%s: strict decoding: %w", tm.Kind, errors.Join(strict...))
	}
	name := ""
	if m, ok := v.(metav1.Object); ok {
		name = m.GetName()
	}
	return Object{Kind: tm.Kind, Name: name, Value: v}, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Helm returns the helm binary to use: $HELM, or helm on PATH.
func Helm() (string, error) {
	if h := os.Getenv("HELM"); h != "" {
		return h, nil
	}
	return exec.LookPath("helm")
}

// Render runs helm template on the chart with the given release name, values
// files (relative to the chart) and --set flags, and returns its output.
func Render(helm, chart, release string, valuesFiles []string, sets []string) ([]byte, error) {
	args := []string{"template", release, chart, "--namespace", "boxoffice", "--kube-version", "1.32.0"}
	for _, f := range valuesFiles {
		args = append(args, "--values", filepath.Join(chart, f))
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}
