{{/* The application name: the chart name unless nameOverride is set. */}}
{{- define "flagger.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<name>, or the release name when it contains the name; at most 63 characters. */}}
{{- define "flagger.fullname" -}}
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

{{- define "flagger.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flagger.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "flagger.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "flagger.labels" -}}
helm.sh/chart: {{ include "flagger.chart" . }}
app.kubernetes.io/name: {{ include "flagger.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "flagger.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flagger.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The metrics server the daemon queries. */}}
{{- define "flagger.metricsServer" -}}
{{- if .Values.prometheus.install -}}
{{- printf "http://%s-prometheus:9090" (include "flagger.fullname" .) -}}
{{- else -}}
{{- .Values.metricsServer -}}
{{- end -}}
{{- end -}}

{{/* The selector labels of one Deployment, called with (list $ shard): the main one's for shard
"", else a shard's, whose instance label names the shard so no two Deployments share pods. */}}
{{- define "flagger.shardSelectorLabels" -}}
{{- $root := index . 0 -}}
{{- $shard := index . 1 -}}
{{- if $shard -}}
app.kubernetes.io/name: {{ include "flagger.name" $root }}
app.kubernetes.io/instance: {{ printf "%s-%s" $root.Release.Name $shard | trunc 63 | trimSuffix "-" }}
{{- else -}}
{{ include "flagger.selectorLabels" $root }}
{{- end -}}
{{- end -}}

{{/* The -watch-label-selector of one Deployment, called with (list $ shard): <key>=<shard>, or
!<key> (the Canaries without the label) for the main one. */}}
{{- define "flagger.shardSelector" -}}
{{- $root := index . 0 -}}
{{- $shard := index . 1 -}}
{{- if $shard -}}
{{ $root.Values.sharding.key }}={{ $shard }}
{{- else -}}
!{{ $root.Values.sharding.key }}
{{- end -}}
{{- end -}}

{{/* Non-empty when extraArgs already sets -watch-label-selector. */}}
{{- define "flagger.setsSelector" -}}
{{- range .Values.extraArgs }}{{ if regexMatch "^--?watch-label-selector" (toString .) }}yes{{ end }}{{ end -}}
{{- end -}}
