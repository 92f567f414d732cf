{{/* The chart's name. */}}
{{- define "picket.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The operator's objects: <release>-operator (picket-operator for the
release `picket`, the name deploy/ uses). */}}
{{- define "picket.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "picket.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selects the operator's pods (not the caches' pods, which are
app.kubernetes.io/name=picket). */}}
{{- define "picket.selectorLabels" -}}
app.kubernetes.io/name: {{ include "picket.name" . }}-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "picket.labels" -}}
helm.sh/chart: {{ include "picket.chart" . }}
{{ include "picket.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: picket
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "picket.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "picket.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "picket.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "picket.serverImage" -}}
{{- printf "%s:%s" .Values.serverImage.repository (default .Chart.AppVersion .Values.serverImage.tag) }}
{{- end }}

{{/* What the operator does to caches, in each watched namespace (or the
whole cluster): its own resource and status; the objects it owns (apply and
watch); pods it reads and deletes (one at a time, in a rollout); Secrets it
reads (and its own, which it writes); the EndpointSlices of the master and
replicas Services; PodDisruptionBudgets; Events. */}}
{{- define "picket.rules" -}}
- apiGroups: [picket.dev]
  resources: [replicatedcaches]
  verbs: [get, list, watch]
- apiGroups: [picket.dev]
  resources: [replicatedcaches/status]
  verbs: [get, patch, update]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [services, configmaps]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, delete]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch, create, patch]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}
