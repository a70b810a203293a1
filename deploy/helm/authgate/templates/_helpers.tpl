{{/*
Names, labels and the checks every template relies on.
*/}}

{{- define "authgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's objects are called after the release, "authgate" when it is named so. */}}
{{- define "authgate.fullname" -}}
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

{{- define "authgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "authgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "authgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "authgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The Secret the chart makes when database.url or redis.url is given as a value. */}}
{{- define "authgate.urlSecretName" -}}
{{- printf "%s-urls" (include "authgate.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The publicUrl, checked: serve refuses to start without it, so the chart does too. */}}
{{- define "authgate.publicUrl" -}}
{{- $url := required "publicUrl is required: the login portal's address as browsers reach it, e.g. --set publicUrl=https://auth.example.com" .Values.publicUrl }}
{{- $parts := urlParse $url }}
{{- if not (and (has $parts.scheme (list "http" "https")) $parts.host) }}
{{- fail (printf "publicUrl must be an absolute http:// or https:// URL such as https://auth.example.com, not %q" $url) }}
{{- end }}
{{- trimSuffix "/" $url }}
{{- end }}

{{/* The portal's host name: ingress.host, else publicUrl's host without a port. */}}
{{- define "authgate.portalHost" -}}
{{- if .Values.ingress.host }}
{{- .Values.ingress.host }}
{{- else }}
{{- $host := (urlParse (include "authgate.publicUrl" .)).host }}
{{- regexReplaceAll ":[0-9]+$" $host "" }}
{{- end }}
{{- end }}

{{/* "postgresql", "sqlite" or "secret" (a URL the chart cannot see; the user chose it). */}}
{{- define "authgate.databaseKind" -}}
{{- if .Values.database.existingSecret }}
{{- print "secret" }}
{{- else if regexMatch "^postgres(ql)?(\\+asyncpg)?://" (lower .Values.database.url) }}
{{- print "postgresql" }}
{{- else if or (not .Values.database.url) (hasPrefix "sqlite" (lower .Values.database.url)) }}
{{- print "sqlite" }}
{{- else }}
{{- fail (printf "database.url must start with postgresql:// (or sqlite:// for one replica), not %q" (regexReplaceAll "//[^@/]*@" .Values.database.url "//***@")) }}
{{- end }}
{{- end }}

{{/* Refuses what cannot work: several replicas on SQLite, each with its own database. */}}
{{- define "authgate.validate" -}}
{{- $kind := include "authgate.databaseKind" . }}
{{- if and (gt (int .Values.replicaCount) 1) (eq $kind "sqlite") }}
{{- fail (printf "replicaCount is %d but the database is SQLite, which lives in one pod's data dir and cannot be shared between pods: set database.existingSecret (or database.url) to a postgresql:// URL, or replicaCount=1" (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.database.existingSecret .Values.database.url }}
{{- fail "set database.existingSecret or database.url, not both" }}
{{- end }}
{{- if and .Values.redis.existingSecret .Values.redis.url }}
{{- fail "set redis.existingSecret or redis.url, not both" }}
{{- end }}
{{- if and .Values.persistence.existingClaim (gt (int .Values.replicaCount) 1) }}
{{- fail "persistence.existingClaim is for a single replica on SQLite; several replicas keep nothing on disk (use PostgreSQL)" }}
{{- end }}
{{- end }}

{{- define "authgate.redisEnabled" -}}
{{- if or .Values.redis.existingSecret .Values.redis.url }}true{{ end }}
{{- end }}

{{- define "authgate.keysMounted" -}}
{{- if and .Values.keys.existingSecret (or .Values.keys.secretKeyKey .Values.keys.jwtKeyKey) }}true{{ end }}
{{- end }}
