{{/* Pod spec shared by the build Jobs. Call with (dict "ctx" $ "name" "plan" "args" (list ...)). */}}
{{- define "shardfleet.buildPodSpec" -}}
{{- $ := .ctx }}
{{- $b := $.Values.build -}}
serviceAccountName: {{ include "shardfleet.serviceAccountName" $ }}
automountServiceAccountToken: {{ $.Values.serviceAccount.automountServiceAccountToken }}
restartPolicy: Never
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $.Values.podSecurityContext | nindent 2 }}
{{- with $b.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $b.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: {{ .name }}
    image: {{ include "shardfleet.image" $ }}
    imagePullPolicy: {{ $.Values.image.pullPolicy }}
    args:
      {{- toYaml .args | nindent 6 }}
    envFrom:
      {{- include "shardfleet.envFrom" $ | nindent 6 }}
    env:
      {{- if .indexed }}
      - name: JOB_COMPLETION_INDEX
        valueFrom:
          fieldRef:
            fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']
      {{- end }}
      {{- with $b.collection }}
      # build.collection: the build writes the collection's prefix under the catalog root store.url.
      - name: SHARDFLEET_STORE
        value: {{ printf "%s/%s" (trimSuffix "/" $.Values.store.url) . | quote }}
      {{- end }}
      - name: OTEL_SERVICE_NAME
        value: shardfleet-build
      {{- with $.Values.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    resources:
      {{- toYaml $b.resources | nindent 6 }}
    securityContext:
      {{- toYaml $.Values.securityContext | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- with $b.volumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $b.scratchSize }}
  {{- with $b.volumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* Metadata of a build hook Job. Call with (dict "ctx" $ "step" "plan" "weight" -10). */}}
{{- define "shardfleet.buildJobMeta" -}}
name: {{ include "shardfleet.fullname" .ctx | trunc 45 | trimSuffix "-" }}-build-{{ .step }}
namespace: {{ .ctx.Release.Namespace }}
labels:
  {{- include "shardfleet.componentLabels" (dict "ctx" .ctx "component" "build") | nindent 2 }}
  shardfleet.io/build-step: {{ .step }}
  shardfleet.io/run-id: {{ .ctx.Values.build.runId | quote }}
annotations:
  # Helm runs hook Jobs in weight order and waits for each to complete before the next.
  helm.sh/hook: post-install,post-upgrade
  helm.sh/hook-weight: {{ .weight | quote }}
  helm.sh/hook-delete-policy: before-hook-creation
{{- end }}
