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

{{/* The duration `value` as the schema allows it (parts such as 1m30s, 500ms), in
milliseconds; `name` is its value's path, for the refusal of a part too long to add up. */}}
{{- define "gpuboard.milliseconds" -}}
{{- $name := .name -}}
{{- $total := 0 -}}
{{- $per := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 -}}
{{- range regexFindAll "[0-9]+(ms|s|m|h|d)" .value -1 -}}
{{- $unit := regexFind "[a-z]+$" . -}}
{{- $digits := regexReplaceAll "^0+" (trimSuffix $unit .) "" -}}
{{- if gt (len $digits) 9 -}}
{{- fail (printf "%s: %s has more than 9 digits" $name .) -}}
{{- end -}}
{{- $total = add $total (mul (atoi (default "0" $digits)) (get $per $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end }}

{{/* Combinations the schema cannot say: refused with the values to change. */}}
{{- define "gpuboard.validate" -}}
{{- if and .Values.ingress.enabled (ne .Values.tls.mode "upstream") -}}
{{- fail "ingress.enabled needs tls.mode=upstream and service.type=ClusterIP: the ingress terminates TLS and reaches the dashboard over plain HTTP" -}}
{{- end -}}
{{- if and (eq .Values.tls.mode "upstream") (ne .Values.service.type "ClusterIP") -}}
{{- fail "tls.mode=upstream serves plain HTTP: it needs service.type=ClusterIP, reached only through the ingress or proxy that terminates TLS" -}}
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
{{- fail "sessions.redis.bundled=false needs sessions.existingSecret: a Secret with keys url (redis://:PASSWORD@HOST:6379/0, your Redis) and key (openssl rand -base64 32)" -}}
{{- end -}}
{{- if and .Values.prometheus.podMonitor.enabled (not .Values.exporter.enabled) -}}
{{- fail "prometheus.podMonitor.enabled scrapes gpuboard-exporter: it needs exporter.enabled" -}}
{{- end -}}
{{- if and .Values.prometheus.podMonitor.enabled .Values.networkPolicy.enabled (not .Values.networkPolicy.prometheusNamespace) -}}
{{- fail "prometheus.podMonitor.enabled with networkPolicy.enabled needs networkPolicy.prometheusNamespace: the policy would keep Prometheus from the exporters" -}}
{{- end -}}
{{- if and (or .Values.prometheus.tokenSecret.name .Values.prometheus.caConfigMap.name) (not .Values.prometheus.url) -}}
{{- fail "prometheus.tokenSecret and prometheus.caConfigMap are for prometheus.url: set it, or leave their names empty" -}}
{{- end -}}
{{- if and .Values.prometheus.caConfigMap.name (not (hasPrefix "https://" .Values.prometheus.url)) -}}
{{- fail "prometheus.caConfigMap is for an https:// prometheus.url: use https://, or leave caConfigMap.name empty" -}}
{{- end -}}
{{- /* The server's own check is telemetry_interval in server/src/main.rs. */ -}}
{{- $interval := dict "name" "dashboard.telemetryInterval" "value" .Values.dashboard.telemetryInterval -}}
{{- if lt (include "gpuboard.milliseconds" $interval | atoi) 250 -}}
{{- fail "dashboard.telemetryInterval is under the dashboard's minimum of 250ms: each cycle asks every exporter (or Prometheus)" -}}
{{- end -}}
{{- if and .Values.dcgmExporter.selector .Values.exporter.enabled -}}
{{- fail "dcgmExporter.selector reads NVIDIA's exporter instead of gpuboard-exporter: set exporter.enabled=false" -}}
{{- end -}}
{{- end }}
