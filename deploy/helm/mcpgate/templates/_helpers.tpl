{{- define "mcpgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mcpgate.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mcpgate.labels" -}}
{{ include "mcpgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/*
The mcpgate configuration: the operator's config with the keys the chart
owns laid over it, so the ports the probes, the Service and the
ServiceMonitor use, and the drain bound the grace period is computed from,
are the ones mcpgate runs with.
*/}}
{{- define "mcpgate.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- range $k := list "listen" "admin" -}}
{{- if hasKey $cfg $k -}}
{{- fail (printf "config.%s is set by the chart (service.port, admin.*): remove it from config" $k) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%v" .Values.service.port) -}}
{{- $_ := set $cfg "admin" (dict "listen" (printf "0.0.0.0:%v" .Values.admin.port) "pprof" .Values.admin.pprof) -}}
{{- $timeouts := get $cfg "timeouts" | default dict -}}
{{- if hasKey $timeouts "shutdown" -}}
{{- fail "config.timeouts.shutdown is set by the chart: use shutdown.timeout" -}}
{{- end -}}
{{- $_ := set $timeouts "shutdown" .Values.shutdown.timeout -}}
{{- $_ := set $cfg "timeouts" $timeouts -}}
{{- $rl := get $cfg "rateLimits" | default dict -}}
{{- if and (eq (get $rl "store" | default "memory") "redis") (not (hasKey $rl "replicas")) -}}
{{- /* What onStoreFailure: local divides each limit by while Redis is down. */ -}}
{{- $_ := set $rl "replicas" (ternary .Values.autoscaling.minReplicas .Values.replicaCount .Values.autoscaling.enabled) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* timeouts.shutdown in whole seconds, rounded up: a Go duration of s, m, h, ms. */}}
{{- define "mcpgate.shutdownSeconds" -}}
{{- $d := toString .Values.shutdown.timeout -}}
{{- if regexMatch "^[0-9]+s$" $d -}}{{ trimSuffix "s" $d }}
{{- else if regexMatch "^[0-9]+m$" $d -}}{{ mul (trimSuffix "m" $d | int) 60 }}
{{- else if regexMatch "^[0-9]+m[0-9]+s$" $d -}}{{ $p := regexSplit "m" (trimSuffix "s" $d) -1 }}{{ add (mul (index $p 0 | int) 60) (index $p 1 | int) }}
{{- else -}}{{ fail (printf "shutdown.timeout %q: write whole seconds or minutes (30s, 1m, 1m30s)" $d) }}
{{- end -}}
{{- end -}}
