{{/* Chart name, truncated to the 63 characters DNS labels allow. */}}
{{- define "shardfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: <release>-<chart> unless the release name already contains it. */}}
{{- define "shardfleet.fullname" -}}
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

{{- define "shardfleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "shardfleet.labels" -}}
helm.sh/chart: {{ include "shardfleet.chart" . }}
{{ include "shardfleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "shardfleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shardfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Component selector labels: call with (dict "ctx" $ "component" "router"). */}}
{{- define "shardfleet.componentSelectorLabels" -}}
{{ include "shardfleet.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "shardfleet.componentLabels" -}}
{{ include "shardfleet.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "shardfleet.routerName" -}}{{ include "shardfleet.fullname" . | trunc 56 | trimSuffix "-" }}-router{{- end }}
{{- define "shardfleet.routerHeadlessName" -}}{{ include "shardfleet.fullname" . | trunc 47 | trimSuffix "-" }}-router-headless{{- end }}
{{- define "shardfleet.nodeName" -}}{{ include "shardfleet.fullname" . | trunc 50 | trimSuffix "-" }}-node{{- end }}
{{- define "shardfleet.nodeHeadlessName" -}}{{ include "shardfleet.fullname" . | trunc 49 | trimSuffix "-" }}-node-headless{{- end }}
{{- define "shardfleet.configName" -}}{{ include "shardfleet.fullname" . | trunc 56 | trimSuffix "-" }}-config{{- end }}

{{- define "shardfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shardfleet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret holding AWS_* credentials, or "" when pods use the service account (IRSA / workload identity). */}}
{{- define "shardfleet.storeSecretName" -}}
{{- if .Values.store.credentials.existingSecret }}
{{- .Values.store.credentials.existingSecret }}
{{- else if .Values.store.credentials.create }}
{{- include "shardfleet.fullname" . | trunc 50 | trimSuffix "-" }}-store-creds
{{- end }}
{{- end }}

{{- define "shardfleet.tlsSecretName" -}}
{{- if .Values.tls.existingSecret }}
{{- .Values.tls.existingSecret }}
{{- else }}
{{- include "shardfleet.fullname" . | trunc 57 | trimSuffix "-" }}-tls
{{- end }}
{{- end }}

{{- define "shardfleet.authSecretName" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else }}
{{- include "shardfleet.fullname" . | trunc 56 | trimSuffix "-" }}-auth
{{- end }}
{{- end }}

{{- define "shardfleet.nodeAuthSecretName" -}}
{{- if .Values.nodeAuth.existingSecret }}
{{- .Values.nodeAuth.existingSecret }}
{{- else }}
{{- include "shardfleet.fullname" . | trunc 51 | trimSuffix "-" }}-node-auth
{{- end }}
{{- end }}

{{/* The membership spec routers and nodes share: SRV records of the node headless service (port named grpc). */}}
{{- define "shardfleet.nodesSpec" -}}
dns+srv:_grpc._tcp.{{ include "shardfleet.nodeHeadlessName" . }}.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}
{{- end }}

{{- define "shardfleet.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* envFrom shared by every shardfleet container: the ConfigMap plus the store credentials Secret. */}}
{{- define "shardfleet.envFrom" -}}
- configMapRef:
    name: {{ include "shardfleet.configName" . }}
{{- with (include "shardfleet.storeSecretName" .) }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}

{{/*
Readiness probe on the grpc.health.v1 service. Plain gRPC: a kubelet `grpc:` probe. With TLS the
kubelet cannot probe (it speaks plaintext gRPC), so an exec probe makes the same Health/Check call
over TLS with grpc-js from the image (chain verified against ca.crt, host name not checked).
Call with (dict "ctx" $ "port" 7001).
*/}}
{{- define "shardfleet.healthProbeHandler" -}}
{{- if .ctx.Values.tls.enabled -}}
exec:
  command:
    - node
    - -e
    - {{ include "shardfleet.tlsProbeScript" (dict "port" .port "mtls" .ctx.Values.tls.requireClientCert) | quote }}
{{- else -}}
grpc:
  port: {{ .port }}
{{- end }}
{{- end }}

{{/*
Node startup / readiness probe: GET /readyz on the metrics port when metrics.enabled and
metrics.httpProbes (the same answer as gRPC health SERVING: every assigned shard of the served run
loaded; plain HTTP, so no exec'd Node process per probe under TLS), else the gRPC health probe.
Call with (dict "ctx" $ "port" 7001).
*/}}
{{- define "shardfleet.nodeReadyProbeHandler" -}}
{{- if and .ctx.Values.metrics.enabled .ctx.Values.metrics.httpProbes -}}
httpGet:
  path: /readyz
  port: metrics
{{- else -}}
{{- include "shardfleet.healthProbeHandler" . }}
{{- end }}
{{- end }}

{{/*
Liveness probe of routers and nodes: GET /healthz on the metrics port when metrics.enabled and
metrics.httpProbes (the process's event loop answers), else a TCP connect to the gRPC port.
Call with the root context.
*/}}
{{- define "shardfleet.livenessProbeHandler" -}}
{{- if and .Values.metrics.enabled .Values.metrics.httpProbes -}}
httpGet:
  path: /healthz
  port: metrics
{{- else -}}
tcpSocket:
  port: grpc
{{- end }}
{{- end }}

{{- define "shardfleet.tlsProbeScript" -}}
const g=require('@grpc/grpc-js'),f=require('fs'),d='/etc/shardfleet/tls/';
{{- if .mtls }}
const c=g.credentials.createSsl(f.readFileSync(d+'ca.crt'),f.readFileSync(d+'tls.key'),f.readFileSync(d+'tls.crt'),{checkServerIdentity:()=>undefined});
{{- else }}
const c=g.credentials.createSsl(f.readFileSync(d+'ca.crt'),null,null,{checkServerIdentity:()=>undefined});
{{- end }}
const k=new g.Client('127.0.0.1:{{ .port }}',c,{'grpc.ssl_target_name_override':'localhost'});
k.makeUnaryRequest('/grpc.health.v1.Health/Check',b=>b,b=>b,Buffer.alloc(0),{deadline:Date.now()+4000},(e,r)=>process.exit(!e&&r.length===2&&r[0]===8&&r[1]===1?0:1));
{{- end }}

{{/* TLS volume mount + volume (call with the root context). */}}
{{- define "shardfleet.tlsVolumeMount" -}}
{{- if .Values.tls.enabled -}}
- name: tls
  mountPath: /etc/shardfleet/tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "shardfleet.tlsVolume" -}}
{{- if .Values.tls.enabled -}}
- name: tls
  secret:
    secretName: {{ include "shardfleet.tlsSecretName" . }}
{{- end }}
{{- end }}

{{- define "shardfleet.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end }}

{{/* Default topology spread: across zones and hosts, best effort. Call with (dict "ctx" $ "component" "router" "values" .Values.router). */}}
{{- define "shardfleet.topologySpread" -}}
{{- if .values.topologySpreadConstraints -}}
{{ toYaml .values.topologySpreadConstraints }}
{{- else -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "shardfleet.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: {{ .values.hostSpreadPolicy }}
  labelSelector:
    matchLabels:
      {{- include "shardfleet.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
{{- end }}
{{- end }}
