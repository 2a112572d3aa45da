{{/* Names, labels, and what every hpo container shares. */}}

{{- define "hpo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hpo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hpo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "hpo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "coordinator"). */}}
{{- define "hpo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hpo.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hpo.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "hpo.coordinatorName" -}}{{ include "hpo.fullname" . }}-coordinator{{- end -}}
{{- define "hpo.rayClusterName" -}}{{ include "hpo.fullname" . }}-ray{{- end -}}
{{- define "hpo.rayHeadName" -}}{{ include "hpo.fullname" . }}-ray-head{{- end -}}

{{/* host:port clients use: the Service name, which the generated certificate names. */}}
{{- define "hpo.coordinatorAddress" -}}
{{- printf "%s:%d" (include "hpo.coordinatorName" .) (int .Values.coordinator.port) -}}
{{- end -}}

{{- define "hpo.tlsSecret" -}}
{{- if eq .Values.tls.mode "existing" -}}
{{- required "tls.existingSecret is required with tls.mode=existing" .Values.tls.existingSecret -}}
{{- else -}}
{{- include "hpo.fullname" . }}-tls
{{- end -}}
{{- end -}}

{{- define "hpo.authSecret" -}}
{{- if eq .Values.tokens.mode "existing" -}}
{{- required "tokens.existingSecret is required with tokens.mode=existing" .Values.tokens.existingSecret -}}
{{- else -}}
{{- include "hpo.fullname" . }}-auth
{{- end -}}
{{- end -}}

{{/* Fails the render with one clear line when the settings cannot work together. */}}
{{- define "hpo.validate" -}}
{{- if not (has .Values.tls.mode (list "generate" "existing" "off")) -}}
{{- fail (printf "tls.mode must be generate, existing or off, not %q" .Values.tls.mode) -}}
{{- end -}}
{{- if not (has .Values.tokens.mode (list "generate" "existing" "off")) -}}
{{- fail (printf "tokens.mode must be generate, existing or off, not %q" .Values.tokens.mode) -}}
{{- end -}}
{{- if and (or (eq .Values.tls.mode "off") (eq .Values.tokens.mode "off")) (not .Values.coordinator.allowInsecure) -}}
{{- fail "tls.mode=off or tokens.mode=off lets anyone who reaches the coordinator read and change every study: set coordinator.allowInsecure=true to do it anyway" -}}
{{- end -}}
{{- if not (or .Values.postgresql.url .Values.postgresql.existingSecret .Values.postgresql.bundled.enabled) -}}
{{- fail "no database: set postgresql.url (or postgresql.existingSecret), or postgresql.bundled.enabled=true to try hpo out" -}}
{{- end -}}
{{- if not (has .Values.sweep.mode (list "job" "rayjob")) -}}
{{- fail (printf "sweep.mode must be job or rayjob, not %q" .Values.sweep.mode) -}}
{{- end -}}
{{- end -}}

{{/* The database URL as an env entry, from whichever Secret holds it. */}}
{{- define "hpo.databaseEnv" -}}
- name: HPO_DB
  valueFrom:
    secretKeyRef:
      {{- if .Values.postgresql.existingSecret }}
      name: {{ .Values.postgresql.existingSecret }}
      key: {{ .Values.postgresql.existingSecretKey }}
      {{- else }}
      name: {{ include "hpo.fullname" . }}-database
      key: url
      {{- end }}
{{- end -}}

{{/* What a client of the coordinator needs (sweeps, Ray nodes): address, token, CA. */}}
{{- define "hpo.clientEnv" -}}
- name: HPO_ADDRESS
  value: {{ include "hpo.coordinatorAddress" . | quote }}
{{- if ne .Values.tokens.mode "off" }}
- name: HPO_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "hpo.authSecret" . }}
      key: token
{{- end }}
{{- if ne .Values.tls.mode "off" }}
- name: HPO_TLS_CA
  value: /etc/hpo/tls/ca.crt
{{- end }}
{{- end -}}

{{- define "hpo.clientVolumeMounts" -}}
{{- if ne .Values.tls.mode "off" -}}
- name: hpo-ca
  mountPath: /etc/hpo/tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "hpo.clientVolumes" -}}
{{- if ne .Values.tls.mode "off" -}}
- name: hpo-ca
  secret:
    secretName: {{ include "hpo.tlsSecret" . }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end -}}

{{/* Pod and container security of every hpo container: the image's non-root user. */}}
{{- define "hpo.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "hpo.containerSecurityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The `hpo sweep` arguments after the command (the Ray address is added by the caller). */}}
{{- define "hpo.sweepArgs" -}}
{{- $s := .Values.sweep -}}
{{- $args := list $s.objective "--study" $s.study "--trials" (toString $s.trials) "--workers" (toString $s.workers) "--cpus-per-trial" (toString $s.cpusPerTrial) "--gpus-per-trial" (toString $s.gpusPerTrial) "--coordinator" (include "hpo.coordinatorAddress" .) -}}
{{- concat $args $s.extraArgs | toJson -}}
{{- end -}}
