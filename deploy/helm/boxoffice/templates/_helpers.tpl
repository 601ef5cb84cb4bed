{{/* The chart name, or nameOverride. */}}
{{- define "boxoffice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: <release>-<chart> unless the release already contains it. */}}
{{- define "boxoffice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "boxoffice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "boxoffice.selectorLabels" . }}
app.kubernetes.io/version: {{ include "boxoffice.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: boxoffice
{{- end -}}

{{/*
Selector labels: name AND instance, so two releases (or another chart's pods,
such as a Redis labelled app=redis) can never match each other's selectors.
*/}}
{{- define "boxoffice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "boxoffice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector of the API server pods (not the migration job's). */}}
{{- define "boxoffice.serverSelectorLabels" -}}
{{ include "boxoffice.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "boxoffice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "boxoffice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image tag: image.tag or the chart's appVersion; never "latest". */}}
{{- define "boxoffice.imageTag" -}}
{{- $tag := toString (default .Chart.AppVersion .Values.image.tag) -}}
{{- if or (eq $tag "") (eq (lower $tag) "latest") -}}
{{- fail "image.tag must pin a version or commit sha: \"latest\" and empty tags are refused" -}}
{{- end -}}
{{- $tag -}}
{{- end -}}

{{/* The image reference, by digest when image.digest is set. */}}
{{- define "boxoffice.image" -}}
{{- if .Values.image.digest -}}
{{- if not (hasPrefix "sha256:" .Values.image.digest) -}}
{{- fail "image.digest must look like sha256:<hex>" -}}
{{- end -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- if contains ":" (.Values.image.repository | splitList "/" | last) -}}
{{- fail "image.repository must not carry a tag: set image.tag" -}}
{{- end -}}
{{- printf "%s:%s" .Values.image.repository (include "boxoffice.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/* One env entry from a key of an existing Secret. */}}
{{- define "boxoffice.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.existingSecret }}
      key: {{ required (printf "secrets: a key for %s" .name) .ref.key }}
{{- end -}}

{{/* The env entries of the secrets (database URL and JWT always; Redis, admin, SMTP when configured). */}}
{{- define "boxoffice.secretEnvs" -}}
{{- $s := .Values.secrets -}}
{{- if not $s.databaseURL.existingSecret -}}
{{- fail "secrets.databaseURL.existingSecret is required (a Secret holding the mysql:// URL)" -}}
{{- end -}}
{{ include "boxoffice.secretEnv" (dict "name" "BOXOFFICE_DATABASE_URL" "ref" $s.databaseURL) }}
{{- if $s.redisURL.existingSecret }}
{{ include "boxoffice.secretEnv" (dict "name" "BOXOFFICE_REDIS_URL" "ref" $s.redisURL) }}
{{- end }}
{{- if not $s.jwtSecret.existingSecret -}}
{{- fail "secrets.jwtSecret.existingSecret is required: every pod must sign and verify with the same key" -}}
{{- end }}
{{ include "boxoffice.secretEnv" (dict "name" "BOXOFFICE_JWT_SECRET" "ref" $s.jwtSecret) }}
{{- if $s.adminPassword.existingSecret }}
{{ include "boxoffice.secretEnv" (dict "name" "BOXOFFICE_ADMIN_PASSWORD" "ref" $s.adminPassword) }}
{{- end }}
{{- if $s.smtpURL.existingSecret }}
{{ include "boxoffice.secretEnv" (dict "name" "BOXOFFICE_SMTP_URL" "ref" $s.smtpURL) }}
{{- end }}
{{- if eq .Values.payments.provider "stripe" }}
{{ include "boxoffice.secretEnv" (dict "name" "BOXOFFICE_STRIPE_SECRET_KEY" "ref" $s.stripeSecretKey) }}
{{ include "boxoffice.secretEnv" (dict "name" "BOXOFFICE_STRIPE_WEBHOOK_SECRET" "ref" $s.stripeWebhookSecret) }}
{{ include "boxoffice.secretEnv" (dict "name" "BOXOFFICE_STRIPE_PUBLISHABLE_KEY" "ref" $s.stripePublishableKey) }}
{{- end }}
{{- end -}}

{{/* Fail early on values that would deploy a broken fleet. */}}
{{- define "boxoffice.validate" -}}
{{- $multi := or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) -}}
{{- if and $multi (not .Values.secrets.redisURL.existingSecret) -}}
{{- fail "more than one replica (or autoscaling) needs secrets.redisURL: without Redis each pod has its own waiting room and cache" -}}
{{- end -}}
{{- if and .Values.secrets.smtpURL.existingSecret (not (and .Values.mail.from .Values.mail.publicURL)) -}}
{{- fail "secrets.smtpURL needs mail.from (BOXOFFICE_MAIL_FROM) and mail.publicURL (BOXOFFICE_PUBLIC_URL): the server refuses to start without them" -}}
{{- end -}}
{{- if ne .Values.payments.provider "stripe" -}}
{{- fail "payments.provider must be stripe: a deployment runs in production mode, which refuses the test provider (it hands out tickets without taking money)" -}}
{{- end -}}
{{- if not (and .Values.secrets.stripeSecretKey.existingSecret .Values.secrets.stripeWebhookSecret.existingSecret .Values.secrets.stripePublishableKey.existingSecret) -}}
{{- fail "secrets.stripeSecretKey, secrets.stripeWebhookSecret and secrets.stripePublishableKey are required: the server refuses to start without them" -}}
{{- end -}}
{{- if not (and .Values.resources.limits .Values.resources.limits.memory) -}}
{{- fail "resources.limits.memory is required: GOMEMLIMIT is derived from it" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (not (and .Values.resources.requests .Values.resources.requests.cpu)) -}}
{{- fail "autoscaling needs resources.requests.cpu (utilization is measured against it)" -}}
{{- end -}}
{{- end -}}

{{/* terminationGracePeriodSeconds: preStop + drain delay + shutdown timeout + margin. */}}
{{- define "boxoffice.gracePeriod" -}}
{{- $d := .Values.drain -}}
{{- add (int $d.preStopSeconds) (int $d.delaySeconds) (int $d.shutdownTimeoutSeconds) (int $d.marginSeconds) -}}
{{- end -}}
