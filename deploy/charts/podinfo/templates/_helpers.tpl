{{/*
The application name: the chart name unless nameOverride is set.
*/}}
{{- define "podinfo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of every object. A release whose name already contains the application name (the
tutorial's `frontend` release with nameOverride=frontend) is used as it is; otherwise
<release>-<name>. Truncated to 63 characters, the DNS label limit.
*/}}
{{- define "podinfo.fullname" -}}
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

{{/*
<chart>-<version> for the chart label.
*/}}
{{- define "podinfo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The labels every object carries.
*/}}
{{- define "podinfo.labels" -}}
app: {{ include "podinfo.name" . }}
chart: {{ include "podinfo.chart" . }}
release: {{ .Release.Name }}
heritage: {{ .Release.Service }}
{{- end -}}

{{/*
The in-cluster address of the application. With a canary, Flagger creates <fullname> (all
traffic, split by weight), <fullname>-primary and <fullname>-canary.
*/}}
{{- define "podinfo.url" -}}
{{- printf "http://%s.%s:%v" (include "podinfo.fullname" .) .Release.Namespace .Values.service.port -}}
{{- end -}}

{{/*
The load test: hey for a while against the application's address. hey does not read
HTTP_PROXY, so a proxy is passed with -x, which must be a URL (a bare host:port fails there).
*/}}
{{- define "podinfo.loadtestCmd" -}}
{{- $t := .Values.canary.loadtest -}}
hey{{ with $t.proxy }} -x {{ if contains "://" . }}{{ . }}{{ else }}http://{{ . }}{{ end }}{{ end }} -z {{ $t.duration }} -q {{ $t.qps }} -c {{ $t.concurrency }} {{ include "podinfo.url" . }}/
{{- end -}}
