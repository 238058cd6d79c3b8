{{/* Names and labels. */}}
{{- define "citymesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "citymesh.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "citymesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object of the release carries. */}}
{{- define "citymesh.commonLabels" -}}
helm.sh/chart: {{ include "citymesh.chart" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: citymesh
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The labels that select this release's citymesh pods. */}}
{{- define "citymesh.releaseSelector" -}}
app.kubernetes.io/name: {{ include "citymesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one workload: (dict "root" $ "w" $workload). */}}
{{- define "citymesh.selectorLabels" -}}
{{ include "citymesh.releaseSelector" .root }}
app.kubernetes.io/component: {{ .w.component }}
{{- if .w.peak }}
citymesh.io/peak: {{ .w.peak }}
{{- end }}
{{- end }}

{{/* All labels of one workload's objects and pods. */}}
{{- define "citymesh.labels" -}}
{{ include "citymesh.commonLabels" .root }}
{{ include "citymesh.selectorLabels" . }}
citymesh.io/role: {{ .w.role }}
{{- end }}

{{/* The image reference. */}}
{{- define "citymesh.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The NATS chart's client Service name (the same rule as the NATS chart's nats.fullname). */}}
{{- define "citymesh.natsFullname" -}}
{{- if .Values.nats.fullnameOverride }}
{{- .Values.nats.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains "nats" .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-nats" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The NATS servers' URLs, comma-separated, without credentials. */}}
{{- define "citymesh.natsURL" -}}
{{- if .Values.nats.enabled }}
{{- printf "nats://%s.%s.svc:4222" (include "citymesh.natsFullname" .) .Release.Namespace }}
{{- else }}
{{- .Values.externalNats.url }}
{{- end }}
{{- end }}

{{/* The NATS URL of one NATS user: its password comes from $(NATS_PASSWORD). (dict "root" $ "user" name) */}}
{{- define "citymesh.natsURLFor" -}}
{{- $urls := list }}
{{- range $u := splitList "," (include "citymesh.natsURL" .root) }}
{{- $u = trim $u }}
{{- if contains "://" $u }}
{{- $urls = append $urls (regexReplaceAll "^([a-z]+)://" $u (printf "${1}://%s:$(NATS_PASSWORD)@" $.user)) }}
{{- else }}
{{- $urls = append $urls (printf "nats://%s:$(NATS_PASSWORD)@%s" $.user $u) }}
{{- end }}
{{- end }}
{{- join "," $urls }}
{{- end }}

{{/*
The workloads: every enabled component and every peak, each a dict with the keys of a component
entry (values.yaml) plus name (object name), component (label), role (platform or peak), peak,
natsUser and settings (the CITYMESH_* settings it gets besides the chart-owned ones). Every
template ranges over this one list: (include "citymesh.workloads" . | fromYaml).items
*/}}
{{- define "citymesh.workloads" -}}
{{- $root := . }}
{{- $fullname := include "citymesh.fullname" . }}
{{- $items := list }}
{{- $addresses := dict }}
{{- range $key, $c := .Values.components }}
{{- if and $c.enabled $c.api (has $c.service (list "collection" "exchange" "compute" "governance")) }}
{{- $service := printf "%s-%s" $fullname $key | trunc 63 | trimSuffix "-" }}
{{- $_ := set $addresses (printf "CITYMESH_%s_ADDRESS" (upper $c.service)) (printf "%s:%d" $service ($c.port | int)) }}
{{- end }}
{{- end }}
{{- range $key, $c := .Values.components }}
{{- if $c.enabled }}
{{- /* The platform services it calls (its `peers`), at their Services, when they are enabled. */}}
{{- $peers := dict }}
{{- range $peer := ($c.peers | default list) }}
{{- $name := printf "CITYMESH_%s_ADDRESS" (upper $peer) }}
{{- if hasKey $addresses $name }}{{ $_ := set $peers $name (get $addresses $name) }}{{ end }}
{{- end }}
{{- $w := deepCopy $c }}
{{- $_ := set $w "key" $key }}
{{- $_ := set $w "name" (printf "%s-%s" $fullname $key | trunc 63 | trimSuffix "-") }}
{{- $_ := set $w "component" $key }}
{{- $_ := set $w "role" "platform" }}
{{- $_ := set $w "peak" "" }}
{{- $_ := set $w "natsUser" ($c.natsUser | default $c.service) }}
{{- $_ := set $w "settings" (mergeOverwrite $peers (deepCopy ($root.Values.settings | default dict)) (deepCopy ($c.settings | default dict))) }}
{{- $items = append $items $w }}
{{- end }}
{{- end }}
{{- range $p := .Values.peaks }}
{{- $w := mergeOverwrite (deepCopy $root.Values.peakDefaults) (deepCopy $p) }}
{{- $_ := set $w "key" (printf "peak-%s" $p.name) }}
{{- $_ := set $w "name" (printf "%s-peak-%s" $fullname $p.name | trunc 63 | trimSuffix "-") }}
{{- $_ := set $w "component" "peak" }}
{{- $_ := set $w "role" "peak" }}
{{- $_ := set $w "peak" $p.name }}
{{- $_ := set $w "service" "peak" }}
{{- $_ := set $w "api" true }}
{{- $_ := set $w "natsUser" (printf "peak-%s" $p.name) }}
{{- /* A peak calls the platform APIs at their Services (its own settings may point elsewhere). */}}
{{- $settings := mergeOverwrite (deepCopy $addresses) (deepCopy ($root.Values.settings | default dict)) (deepCopy ($w.settings | default dict)) }}
{{- $_ := set $settings "CITYMESH_TENANT" $p.tenant }}
{{- $_ := set $settings "CITYMESH_DISTRICT" $p.district }}
{{- $_ := set $w "settings" $settings }}
{{- $items = append $items $w }}
{{- end }}
{{- toYaml (dict "items" $items) }}
{{- end }}

{{/* The platform API workloads (Service and gRPC port), for peaks' and platform pods' egress. */}}
{{- define "citymesh.platformAPIs" -}}
{{- $apis := list }}
{{- range $w := (include "citymesh.workloads" . | fromYaml).items }}
{{- if and (eq $w.role "platform") $w.api }}
{{- $apis = append $apis (dict "component" $w.component "port" $w.port) }}
{{- end }}
{{- end }}
{{- toYaml (dict "items" $apis) }}
{{- end }}

{{/* Seconds a pod gets to stop: the service's grace plus the margin. (dict "root" $ "w" $w) */}}
{{- define "citymesh.terminationGrace" -}}
{{- $grace := .w.settings.CITYMESH_GRACE_S | default 10 | float64 }}
{{- add (ceil $grace | int) (.root.Values.shutdownMarginSeconds | int) }}
{{- end }}

{{/* Checks the schema cannot express; each fails the install with the reason. */}}
{{- define "citymesh.validate" -}}
{{- if and (not .Values.nats.enabled) (not .Values.externalNats.url) }}
{{- fail "citymesh: set externalNats.url to the NATS servers, or nats.enabled=true to install NATS with the release" }}
{{- end }}
{{- if and .Values.nats.enabled .Values.externalNats.url }}
{{- fail "citymesh: nats.enabled=true installs NATS with the release, so externalNats.url must stay empty (set nats.enabled=false to use an external NATS)" }}
{{- end }}
{{- if .Values.nats.enabled }}
{{- $servers := 1 }}
{{- if .Values.nats.config.cluster.enabled }}{{ $servers = .Values.nats.config.cluster.replicas | int }}{{ end }}
{{- if gt (.Values.streamReplicas | int) $servers }}
{{- fail (printf "citymesh: streamReplicas is %d but the NATS chart runs %d server(s); a JetStream stream cannot have more replicas than servers (enable nats.config.cluster with enough replicas, or lower streamReplicas)" (.Values.streamReplicas | int) $servers) }}
{{- end }}
{{- end }}
{{- if and .Values.auth.enabled (not .Values.auth.existingSecret) }}
{{- fail "citymesh: auth.enabled needs auth.existingSecret, the Secret holding governance's Ed25519 keys (keys signing-key and public-key, PEM)" }}
{{- end }}
{{- if and .Values.natsAuth.enabled (not .Values.natsAuth.existingSecret) }}
{{- fail "citymesh: natsAuth.enabled needs natsAuth.existingSecret, the Secret holding each NATS user's password (see infra/nats/)" }}
{{- end }}
{{- $names := dict }}
{{- range $w := (include "citymesh.workloads" . | fromYaml).items }}
{{- if hasKey $names $w.name }}
{{- fail (printf "citymesh: two workloads are named %s; peak names must be unique and not clash with components" $w.name) }}
{{- end }}
{{- $_ := set $names $w.name true }}
{{- if and $w.keda $w.keda.enabled (not $.Values.nats.enabled) (not $w.keda.monitoringEndpoint) }}
{{- fail (printf "citymesh: %s scales with KEDA on an external NATS: set its keda.monitoringEndpoint to the NATS monitoring host:port" $w.key) }}
{{- end }}
{{- if and $w.hpa $w.keda }}{{ if and $w.hpa.enabled $w.keda.enabled }}
{{- fail (printf "citymesh: %s enables both hpa and keda; KEDA makes its own HPA, so enable only one" $w.key) }}
{{- end }}{{ end }}
{{- if and $w.persistence $w.persistence.enabled }}
{{- if $w.settings.CITYMESH_DB_PATH }}{{ if not (hasPrefix (printf "%s/" (trimSuffix "/" $w.persistence.mountPath)) (toString $w.settings.CITYMESH_DB_PATH)) }}
{{- fail (printf "citymesh: %s keeps CITYMESH_DB_PATH=%s outside its volume at %s; it would be lost with the pod" $w.key (toString $w.settings.CITYMESH_DB_PATH) $w.persistence.mountPath) }}
{{- end }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
