package check

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const chart = "../helm/boxoffice"

func helmOrSkip(t *testing.T) string {
	t.Helper()
	h, err := Helm()
	if err != nil {
		t.Skip("helm not found (set HELM or put helm on PATH; go install helm.sh/helm/v3/cmd/helm@v3.22.0): chart checks skipped")
	}
	return h
}

// rendered is one rendering of the chart, decoded and indexed by kind.
type rendered struct {
	objs []Object
}

func (r rendered) all(kind string) []any {
	var out []any
	for _, o := range r.objs {
		if o.Kind == kind {
			out = append(out, o.Value)
		}
	}
	return out
}

// service returns the one Service whose component label is component
// (server: the public one; metrics: the ServiceMonitor's).
func service(t *testing.T, r rendered, component string) *corev1.Service {
	t.Helper()
	var out []*corev1.Service
	for _, v := range r.all("Service") {
		if svc := v.(*corev1.Service); svc.Labels["app.kubernetes.io/component"] == component {
			out = append(out, svc)
		}
	}
	if len(out) != 1 {
		t.Fatalf("want exactly one Service of component %s, got %d", component, len(out))
	}
	return out[0]
}

func one[T any](t *testing.T, r rendered, kind string) T {
	t.Helper()
	vs := r.all(kind)
	if len(vs) != 1 {
		t.Fatalf("want exactly one %s, got %d", kind, len(vs))
	}
	return vs[0].(T)
}

func render(t *testing.T, helm, release string, files, sets []string) rendered {
	t.Helper()
	out, err := Render(helm, chart, release, files, sets)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(out)
	if err != nil {
		t.Fatalf("strict decoding of the rendered chart:\n%v", err)
	}
	return rendered{objs: objs}
}

// The renderings CI checks: the chart's defaults, production, and every
// optional part switched on.
var cases = []struct {
	name  string
	files []string
	sets  []string
	kinds []string // kinds that must be present beyond the always-present ones
	not   []string // kinds that must be absent
	mail  bool     // mail is sent (secrets.smtpURL)
}{
	{name: "default", kinds: []string{"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"}, not: []string{"Ingress", "ServiceMonitor"}},
	{name: "production", files: []string{"values-production.yaml"}, kinds: []string{"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Ingress", "ServiceMonitor"}},
	{name: "everything", sets: []string{"ingress.enabled=true", "ingress.className=nginx", "serviceMonitor.enabled=true", "grafanaDashboards.enabled=true", "image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "secrets.adminPassword.existingSecret=boxoffice-admin", "config.extra.BOXOFFICE_ADMIN_EMAIL=admin@example.com",
		"secrets.smtpURL.existingSecret=boxoffice-mail", "mail.from=Boxoffice <tickets@example.com>", "mail.publicURL=https://tickets.example.com"},
		kinds: []string{"Ingress", "ServiceMonitor"}, mail: true},
	{name: "single instance without Redis", sets: []string{"autoscaling.enabled=false", "replicaCount=1", "secrets.redisURL.existingSecret=", "podDisruptionBudget.enabled=false", "networkPolicy.enabled=false", "migrations.enabled=false"},
		not: []string{"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Job"}},
}

func TestChartRendersStrictlyAndSafely(t *testing.T) {
	helm := helmOrSkip(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := render(t, helm, "boxoffice", c.files, c.sets)
			for _, k := range append([]string{"Deployment", "Service", "ConfigMap", "ServiceAccount"}, c.kinds...) {
				if len(r.all(k)) == 0 {
					t.Errorf("no %s rendered", k)
				}
			}
			for _, k := range c.not {
				if len(r.all(k)) != 0 {
					t.Errorf("%s rendered although switched off", k)
				}
			}
			checkDeployment(t, r)
			checkWiring(t, r)
			checkMail(t, r, c.mail)
			checkPayments(t, r)
			if len(r.all("Job")) > 0 {
				checkMigrationJob(t, r)
			}
		})
	}
}

// checkPayments: every deployment runs in production mode with Stripe, its
// keys taken from a Secret (never the ConfigMap), and the NetworkPolicy lets
// the pods reach Stripe's API.
func checkPayments(t *testing.T, r rendered) {
	t.Helper()
	d := one[*appsv1.Deployment](t, r, "Deployment")
	fromSecret := map[string]bool{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.Value == "" {
			fromSecret[e.Name] = true
		}
	}
	for _, name := range []string{"BOXOFFICE_STRIPE_SECRET_KEY", "BOXOFFICE_STRIPE_WEBHOOK_SECRET", "BOXOFFICE_STRIPE_PUBLISHABLE_KEY"} {
		if !fromSecret[name] {
			t.Errorf("%s is not taken from a Secret", name)
		}
	}
	for _, v := range r.all("ConfigMap") {
		cm := v.(*corev1.ConfigMap)
		if cm.Name != d.Name {
			continue
		}
		if cm.Data["BOXOFFICE_ENV"] != "production" || cm.Data["BOXOFFICE_PAYMENTS"] != "stripe" {
			t.Errorf("ConfigMap: BOXOFFICE_ENV %q, BOXOFFICE_PAYMENTS %q; want production, stripe", cm.Data["BOXOFFICE_ENV"], cm.Data["BOXOFFICE_PAYMENTS"])
		}
		for k := range cm.Data {
			if strings.HasPrefix(k, "BOXOFFICE_STRIPE_") {
				t.Errorf("%s (a secret) is in the ConfigMap", k)
			}
		}
	}
	https := false
	for _, v := range r.all("NetworkPolicy") {
		for _, rule := range v.(*networkingv1.NetworkPolicy).Spec.Egress {
			for _, p := range rule.Ports {
				https = https || p.Port != nil && p.Port.IntValue() == 443
			}
		}
	}
	if len(r.all("NetworkPolicy")) > 0 && !https {
		t.Error("the NetworkPolicy does not let the pods reach Stripe's API (port 443)")
	}
}

// checkMail: with secrets.smtpURL the pods get BOXOFFICE_SMTP_URL from that
// Secret (never a plain value), the sender and the public address from the
// ConfigMap, and the NetworkPolicy lets them reach the SMTP port; without it
// none of that is set.
func checkMail(t *testing.T, r rendered, mail bool) {
	t.Helper()
	d := one[*appsv1.Deployment](t, r, "Deployment")
	var smtp *corev1.EnvVar
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "BOXOFFICE_SMTP_URL" {
			smtp = &e
		}
	}
	var cm *corev1.ConfigMap
	for _, v := range r.all("ConfigMap") {
		if c := v.(*corev1.ConfigMap); c.Name == d.Name {
			cm = c
		}
	}
	if cm == nil {
		t.Fatal("no ConfigMap of the Deployment's name")
	}
	if _, ok := cm.Data["BOXOFFICE_SMTP_URL"]; ok {
		t.Error("BOXOFFICE_SMTP_URL (it holds the SMTP password) is in the ConfigMap")
	}
	smtpEgress := false
	for _, v := range r.all("NetworkPolicy") {
		for _, rule := range v.(*networkingv1.NetworkPolicy).Spec.Egress {
			for _, p := range rule.Ports {
				smtpEgress = smtpEgress || p.Port != nil && p.Port.IntValue() == 587
			}
		}
	}
	if !mail {
		if smtp != nil || cm.Data["BOXOFFICE_MAIL_FROM"] != "" || smtpEgress {
			t.Errorf("mail is configured without secrets.smtpURL: env %+v, from %q, egress to 587 %v", smtp, cm.Data["BOXOFFICE_MAIL_FROM"], smtpEgress)
		}
		return
	}
	if smtp == nil || smtp.Value != "" || smtp.ValueFrom == nil || smtp.ValueFrom.SecretKeyRef == nil ||
		smtp.ValueFrom.SecretKeyRef.Name != "boxoffice-mail" || smtp.ValueFrom.SecretKeyRef.Key != "smtp-url" {
		t.Errorf("BOXOFFICE_SMTP_URL is not taken from the Secret boxoffice-mail, key smtp-url: %+v", smtp)
	}
	if cm.Data["BOXOFFICE_MAIL_FROM"] != "Boxoffice <tickets@example.com>" || cm.Data["BOXOFFICE_PUBLIC_URL"] != "https://tickets.example.com" {
		t.Errorf("ConfigMap: BOXOFFICE_MAIL_FROM %q, BOXOFFICE_PUBLIC_URL %q", cm.Data["BOXOFFICE_MAIL_FROM"], cm.Data["BOXOFFICE_PUBLIC_URL"])
	}
	if len(r.all("NetworkPolicy")) > 0 && !smtpEgress {
		t.Error("the NetworkPolicy does not let the pods reach the SMTP server (port 587)")
	}
}

func checkImage(t *testing.T, what, image string) {
	t.Helper()
	ref := image
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	switch {
	case strings.Contains(ref, "@sha256:"):
	case !strings.Contains(ref, ":"):
		t.Errorf("%s: image %q has no tag (would mean :latest)", what, image)
	case strings.HasSuffix(ref, ":latest"):
		t.Errorf("%s: image %q is :latest", what, image)
	}
}

func checkContainer(t *testing.T, what string, c corev1.Container) {
	t.Helper()
	checkImage(t, what, c.Image)
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[res]; !ok {
			t.Errorf("%s: no %s request", what, res)
		}
		if _, ok := c.Resources.Limits[res]; !ok {
			t.Errorf("%s: no %s limit", what, res)
		}
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: root filesystem is not read-only", what)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: privilege escalation allowed", what)
	}
	if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: capabilities not dropped", what)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" }) {
		t.Errorf("%s: no writable /tmp", what)
	}
	var gomemlimit bool
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory" {
			gomemlimit = true
		}
		if slices.Contains([]string{"BOXOFFICE_DATABASE_URL", "BOXOFFICE_REDIS_URL", "BOXOFFICE_JWT_SECRET", "BOXOFFICE_ADMIN_PASSWORD"}, e.Name) &&
			(e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s: %s does not come from a Secret", what, e.Name)
		}
	}
	if !gomemlimit {
		t.Errorf("%s: GOMEMLIMIT is not set from limits.memory", what)
	}
}

func checkPod(t *testing.T, what string, spec corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: pod does not run as non-root", what)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: service account token mounted", what)
	}
	for _, v := range spec.Volumes {
		if v.Name == "tmp" && v.EmptyDir == nil {
			t.Errorf("%s: /tmp is not an emptyDir", what)
		}
	}
	for _, c := range spec.Containers {
		checkContainer(t, what+"/"+c.Name, c)
	}
}

func envOf(r rendered, c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, cm := range r.all("ConfigMap") {
		cm := cm.(*corev1.ConfigMap)
		for _, from := range c.EnvFrom {
			if from.ConfigMapRef != nil && from.ConfigMapRef.Name == cm.Name {
				for k, v := range cm.Data {
					env[k] = v
				}
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		}
	}
	return env
}

func checkDeployment(t *testing.T, r rendered) {
	t.Helper()
	d := one[*appsv1.Deployment](t, r, "Deployment")
	spec := d.Spec.Template.Spec
	checkPod(t, "Deployment", spec)
	c := spec.Containers[0]
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe is not /readyz: %+v", p)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe is not /healthz: %+v", p)
	}
	env := envOf(r, c)
	if env["BOXOFFICE_MIGRATE"] != "false" {
		t.Errorf("BOXOFFICE_MIGRATE = %q in the Deployment; migrations belong to the hook Job", env["BOXOFFICE_MIGRATE"])
	}
	for _, name := range []string{"BOXOFFICE_DATABASE_URL", "BOXOFFICE_JWT_SECRET"} {
		if !strings.HasPrefix(env[name], "secret:") {
			t.Errorf("%s is not set from a Secret", name)
		}
	}
	// The grace period must let preStop, the drain delay and the shutdown
	// timeout all finish before SIGKILL.
	drain, err1 := time.ParseDuration(env["BOXOFFICE_DRAIN_DELAY"])
	shutdown, err2 := time.ParseDuration(env["BOXOFFICE_SHUTDOWN_TIMEOUT"])
	if err1 != nil || err2 != nil {
		t.Fatalf("drain timing not configured: %q %q", env["BOXOFFICE_DRAIN_DELAY"], env["BOXOFFICE_SHUTDOWN_TIMEOUT"])
	}
	need := drain + shutdown
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if c.Lifecycle.PreStop.Sleep == nil {
			t.Errorf("preStop is not a sleep action (the image has no shell)")
		} else {
			need += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
	} else {
		t.Errorf("no preStop hook")
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %v does not exceed preStop + drain + shutdown = %s", g, need)
	}
	// Selectors: name and instance, matching the pod template.
	sel := d.Spec.Selector.MatchLabels
	for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance"} {
		if sel[k] == "" {
			t.Errorf("Deployment selector lacks %s: %v", k, sel)
		}
	}
	if !labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Deployment selector %v does not match its pods %v", sel, d.Spec.Template.Labels)
	}
	if ref := d.Spec.Strategy.RollingUpdate; ref == nil || ref.MaxUnavailable == nil || ref.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update may take pods down before new ones are ready")
	}
}

// checkWiring: the Service, PDB, HPA and ServiceMonitor all point at the
// Deployment's pods, and nothing else.
func checkWiring(t *testing.T, r rendered) {
	t.Helper()
	d := one[*appsv1.Deployment](t, r, "Deployment")
	podLabels := labels.Set(d.Spec.Template.Labels)
	svc := service(t, r, "server")
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Selector) < 3 {
		t.Errorf("Service selector %v does not select the pods %v by name, instance and component", svc.Spec.Selector, podLabels)
	}
	for _, v := range r.all("PodDisruptionBudget") {
		pdb := v.(*policyv1.PodDisruptionBudget)
		if !labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels).Matches(podLabels) {
			t.Errorf("PDB does not select the pods")
		}
	}
	for _, v := range r.all("HorizontalPodAutoscaler") {
		hpa := v.(*autoscalingv2.HorizontalPodAutoscaler)
		if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != d.Name {
			t.Errorf("HPA targets %+v, not the Deployment %s", hpa.Spec.ScaleTargetRef, d.Name)
		}
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 {
			t.Errorf("HPA minReplicas below 2")
		}
		if d.Spec.Replicas != nil {
			t.Errorf("Deployment sets replicas although an HPA owns them")
		}
	}
	// The metrics (sales figures) are served on the pods' metrics port
	// only; the public Service never carries it, and only the
	// ServiceMonitor's own Service does.
	if env := d.Spec.Template.Spec.Containers[0]; !slices.ContainsFunc(env.Ports, func(p corev1.ContainerPort) bool {
		return p.Name == "metrics" && p.ContainerPort == 9464
	}) {
		t.Errorf("the pods have no metrics port 9464: %+v", env.Ports)
	}
	for _, v := range r.all("ConfigMap") {
		if cm := v.(*corev1.ConfigMap); cm.Name == d.Name && (cm.Data["BOXOFFICE_METRICS_ADDR"] != ":9464" || cm.Data["BOXOFFICE_ADDR"] != ":8080") {
			t.Errorf("ConfigMap addresses: api %q, metrics %q", cm.Data["BOXOFFICE_ADDR"], cm.Data["BOXOFFICE_METRICS_ADDR"])
		}
		// Behind the Ingress every request comes from an ingress pod: the
		// rate limits must read the client from X-Forwarded-For.
		if cm := v.(*corev1.ConfigMap); cm.Name == d.Name && cm.Data["BOXOFFICE_TRUSTED_PROXIES"] == "" {
			t.Error("the ConfigMap sets no BOXOFFICE_TRUSTED_PROXIES: every fan would count as the ingress pod's address")
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.String() != "http" {
			t.Errorf("the public Service exposes port %s (target %s)", p.Name, p.TargetPort.String())
		}
	}
	for _, v := range r.all("ServiceMonitor") {
		sm := v.(*monitoringv1.ServiceMonitor)
		msvc := service(t, r, "metrics")
		if msvc.Spec.Type != corev1.ServiceTypeClusterIP || len(msvc.Spec.Ports) != 1 || msvc.Spec.Ports[0].TargetPort.String() != "metrics" {
			t.Errorf("metrics Service: %s %+v", msvc.Spec.Type, msvc.Spec.Ports)
		}
		if !labels.SelectorFromSet(msvc.Spec.Selector).Matches(podLabels) {
			t.Errorf("metrics Service does not select the pods")
		}
		sel := labels.SelectorFromSet(sm.Spec.Selector.MatchLabels)
		if !sel.Matches(labels.Set(msvc.Labels)) || sel.Matches(labels.Set(svc.Labels)) {
			t.Errorf("ServiceMonitor must select the metrics Service and not the public one")
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" || sm.Spec.Endpoints[0].Port != "metrics" {
			t.Errorf("ServiceMonitor endpoints: %+v", sm.Spec.Endpoints)
		}
	}
	for _, v := range r.all("Ingress") {
		ing := v.(*networkingv1.Ingress)
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service == nil || p.Backend.Service.Name != svc.Name {
					t.Errorf("Ingress path %s does not route to the Service", p.Path)
				}
			}
		}
	}
	for _, v := range r.all("NetworkPolicy") {
		np := v.(*networkingv1.NetworkPolicy)
		if !labels.SelectorFromSet(np.Spec.PodSelector.MatchLabels).Matches(podLabels) {
			t.Errorf("NetworkPolicy does not cover the pods")
		}
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			t.Errorf("NetworkPolicy leaves egress open")
		}
		var open []string
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port != nil {
					open = append(open, p.Port.String())
				}
			}
		}
		if slices.Sort(open); !slices.Equal(open, []string{"http", "metrics"}) {
			t.Errorf("NetworkPolicy opens ports %v, want http and metrics", open)
		}
	}
}

func checkMigrationJob(t *testing.T, r rendered) {
	t.Helper()
	j := one[*batchv1.Job](t, r, "Job")
	hooks := strings.Split(j.Annotations["helm.sh/hook"], ",")
	if !slices.Contains(hooks, "pre-install") || !slices.Contains(hooks, "pre-upgrade") {
		t.Errorf("migration Job hooks: %v", hooks)
	}
	spec := j.Spec.Template.Spec
	checkPod(t, "Job", spec)
	c := spec.Containers[0]
	if !slices.Equal(c.Args, []string{"migrate"}) {
		t.Errorf("migration Job runs %v", c.Args)
	}
	if len(c.EnvFrom) != 0 {
		t.Errorf("migration Job reads a ConfigMap that does not exist yet on a first install")
	}
	if env := envOf(r, c); !strings.HasPrefix(env["BOXOFFICE_DATABASE_URL"], "secret:") {
		t.Errorf("migration Job has no database URL from a Secret")
	}
	if spec.ServiceAccountName != "" {
		t.Errorf("migration Job uses ServiceAccount %q, which a first install creates only after the hook", spec.ServiceAccountName)
	}
	d := one[*appsv1.Deployment](t, r, "Deployment")
	if j.Spec.Template.Spec.Containers[0].Image != d.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("migration Job image differs from the Deployment's")
	}
	if labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(j.Spec.Template.Labels)) {
		t.Errorf("the Deployment's selector matches the migration pods")
	}
}

// Two releases of the chart in one namespace must not select each other's
// pods, and a pod with generic labels (the seed system's Redis collision)
// is never selected.
func TestSelectorsCannotCollide(t *testing.T) {
	helm := helmOrSkip(t)
	a := render(t, helm, "tickets", nil, nil)
	b := render(t, helm, "tickets-canary", nil, nil)
	da := one[*appsv1.Deployment](t, a, "Deployment")
	db := one[*appsv1.Deployment](t, b, "Deployment")
	sa := one[*corev1.Service](t, a, "Service")
	if labels.SelectorFromSet(da.Spec.Selector.MatchLabels).Matches(labels.Set(db.Spec.Template.Labels)) ||
		labels.SelectorFromSet(sa.Spec.Selector).Matches(labels.Set(db.Spec.Template.Labels)) {
		t.Errorf("release tickets selects the pods of release tickets-canary")
	}
	stranger := labels.Set{"app": "redis", "app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "tickets", "app.kubernetes.io/component": "server"}
	if labels.SelectorFromSet(sa.Spec.Selector).Matches(stranger) {
		t.Errorf("the Service selects a Redis pod of the same instance")
	}
}

// Values that would deploy a broken or unsafe fleet are refused at render
// time with a message.
func TestChartRefusesUnsafeValues(t *testing.T) {
	helm := helmOrSkip(t)
	for _, c := range []struct {
		name string
		sets []string
		want string
	}{
		{"latest tag", []string{"image.tag=latest"}, `"latest" and empty tags are refused`},
		{"tag in repository", []string{"image.repository=example.com/boxoffice:latest"}, "must not carry a tag"},
		{"bad digest", []string{"image.digest=deadbeef"}, "sha256:"},
		{"no memory limit", []string{"resources.limits.memory=null"}, "resources.limits.memory is required"},
		{"fleet without Redis", []string{"secrets.redisURL.existingSecret="}, "needs secrets.redisURL"},
		{"no JWT secret", []string{"secrets.jwtSecret.existingSecret="}, "secrets.jwtSecret.existingSecret is required"},
		{"no database", []string{"secrets.databaseURL.existingSecret="}, "secrets.databaseURL.existingSecret is required"},
		{"secret in config", []string{"config.extra.BOXOFFICE_JWT_SECRET=x"}, "is a secret"},
		{"SMTP URL in config", []string{"config.extra.BOXOFFICE_SMTP_URL=smtp://u:p@mail:587"}, "is a secret"},
		{"Stripe key in config", []string{"config.extra.BOXOFFICE_STRIPE_SECRET_KEY=sk_live_x"}, "is a secret"},
		{"test payments", []string{"payments.provider=test"}, "payments.provider must be stripe"},
		{"no Stripe key", []string{"secrets.stripeSecretKey.existingSecret="}, "secrets.stripeSecretKey, secrets.stripeWebhookSecret and secrets.stripePublishableKey are required"},
		{"no webhook secret", []string{"secrets.stripeWebhookSecret.existingSecret="}, "secrets.stripeSecretKey, secrets.stripeWebhookSecret and secrets.stripePublishableKey are required"},
		{"no publishable key", []string{"secrets.stripePublishableKey.existingSecret="}, "secrets.stripeSecretKey, secrets.stripeWebhookSecret and secrets.stripePublishableKey are required"},
		{"SMTP without sender", []string{"secrets.smtpURL.existingSecret=boxoffice-mail", "mail.publicURL=https://tickets.example.com"}, "secrets.smtpURL needs mail.from"},
		{"SMTP without public URL", []string{"secrets.smtpURL.existingSecret=boxoffice-mail", "mail.from=tickets@example.com"}, "secrets.smtpURL needs mail.from"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render(helm, chart, "boxoffice", nil, c.sets)
			if err == nil {
				t.Fatalf("rendered with %v", c.sets)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not say %q:\n%v", c.want, err)
			}
		})
	}
}

// The decoder itself: a misspelt, miscased or duplicated field fails.
func TestStrictDecodingRejectsMistakes(t *testing.T) {
	const base = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  selector:
    matchLabels: {a: b}
  template:
    metadata:
      labels: {a: b}
    spec:
      containers:
        - name: x
          image: x:1
          %s
`
	if _, err := DecodeOne([]byte(strings.Replace(base, "%s", "readinessProbe: {httpGet: {path: /readyz, port: 8080}}", 1))); err != nil {
		t.Fatalf("valid manifest rejected: %v", err)
	}
	for _, bad := range []string{
		"readinesProbe: {httpGet: {path: /readyz, port: 8080}}",
		"ReadinessProbe: {httpGet: {path: /readyz, port: 8080}}",
		"readinessProbe: {httpGet: {path: /readyz, port: 8080, pth: /x}}",
		"resources: {limits: {memory: 1Gi}}\n          resources: {limits: {memory: 2Gi}}",
	} {
		if _, err := DecodeOne([]byte(strings.Replace(base, "%s", bad, 1))); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, err := DecodeOne([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")); err == nil {
		t.Errorf("a Secret in the chart's output was accepted")
	}
}

// Grafana dashboards: when deploy/grafana has JSON files, each is valid JSON
// and the chart ships them in a ConfigMap for the Grafana sidecar.
func TestGrafanaDashboards(t *testing.T) {
	files, _ := filepath.Glob("../grafana/*.json")
	if len(files) == 0 {
		t.Skip("no dashboards in deploy/grafana: the dashboard ConfigMap is not rendered (by design)")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s is not valid JSON", f)
		}
	}
	helm := helmOrSkip(t)
	r := render(t, helm, "boxoffice", nil, []string{"grafanaDashboards.enabled=true"})
	var found bool
	for _, v := range r.all("ConfigMap") {
		cm := v.(*corev1.ConfigMap)
		if cm.Labels["grafana_dashboard"] == "1" {
			found = true
			if len(cm.Data) != len(files) {
				t.Errorf("dashboard ConfigMap has %d dashboards, deploy/grafana %d", len(cm.Data), len(files))
			}
		}
	}
	if !found {
		t.Errorf("no dashboard ConfigMap although deploy/grafana has dashboards")
	}
}

var pinnedRevision = regexp.MustCompile(`^(v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?|[0-9a-f]{40})$`)
