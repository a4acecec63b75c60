{{/*
The names the dashboard looks for, and the rules that more than one template follows. The
dashboard finds its exporters as the pods of the DaemonSet gpuboard-exporter, labelled
app.kubernetes.io/name=gpuboard-exporter, in --exporter-namespace: hence fixed names.
*/}}

{{- define "gpuboard.labels" -}}
app.kubernetes.io/part-of: gpuboard
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end }}

{{- define "gpuboard.image" -}}
{{- $image := index .root.Values.image .role -}}
{{ $image.repository }}:{{ $image.tag | default .root.Chart.AppVersion }}
{{- end }}

{{/* The Secret with the session store's url and sealing key. */}}
{{- define "gpuboard.sessionSecret" -}}
{{ .Values.sessions.existingSecret | default "gpuboard-session" }}
{{- end }}

{{/* Whether the dashboard serves plain HTTP behind a proxy that terminates TLS. */}}
{{- define "gpuboard.scheme" -}}
{{ if eq .Values.tls.mode "upstream" }}HTTP{{ else }}HTTPS{{ end }}
{{- end }}

{{/* Combinations the schema cannot say: refused with the values to change. */}}
{{- define "gpuboard.validate" -}}
{{- if and .Values.ingress.enabled (ne .Values.tls.mode "upstream") -}}
{{- fail "ingress.enabled needs tls.mode=upstream: the ingress terminates TLS and reaches the dashboard over plain HTTP" -}}
{{- end -}}
{{- if gt (int .Values.dashboard.replicas) 1 -}}
{{- if ne .Values.sessions.store "redis" -}}
{{- fail "dashboard.replicas above 1 needs sessions.store=redis: each replica would hold its own sessions" -}}
{{- end -}}
{{- if eq .Values.tls.mode "selfSigned" -}}
{{- fail "dashboard.replicas above 1 needs tls.mode=secret or upstream: a certificate made at start would differ per replica" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.prometheus.url .Values.dcgmExporter.selector -}}
{{- fail "prometheus.url and dcgmExporter.selector exclude each other: the dashboard takes GPU samples from one source" -}}
{{- end -}}
{{- if and (eq .Values.sessions.store "redis") (not .Values.sessions.redis.bundled) (not .Values.sessions.existingSecret) -}}
{{- fail "sessions.redis.bundled=false needs sessions.existingSecret: a Secret whose url names your Redis" -}}
{{- end -}}
{{- if and .Values.prometheus.podMonitor.enabled (not .Values.exporter.enabled) -}}
{{- fail "prometheus.podMonitor.enabled scrapes gpuboard-exporter: it needs exporter.enabled" -}}
{{- end -}}
{{- end }}
