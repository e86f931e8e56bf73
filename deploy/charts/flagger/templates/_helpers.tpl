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
