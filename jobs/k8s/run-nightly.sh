#!/usr/bin/env bash
# Runs one night's batch on Kubernetes: plan, the Indexed build Job, finalize,
# each waiting for the previous one. cronjob.yaml runs it in the cluster; any
# scheduler with kubectl and envsubst can run it too.
#
#   BATCH_DATE=2026-11-24 PROOFMARK_IMAGE=registry.example/proofmark:0.1.0 \
#   PROOFMARK_STORE=s3://proofmark-batches/prod BUILD_PODS=8 jobs/k8s/run-nightly.sh
#
# BATCH_DATE defaults to yesterday in UTC. STEP_TIMEOUT (seconds, or with an s,
# m or h suffix; default 6h) bounds the wait for each Job; keep it above the
# Jobs' activeDeadlineSeconds (5 h), so that Kubernetes stops a step that runs
# too long and this script reports it as failed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() {
    echo "run-nightly: $*" >&2
    exit 1
}

# Yesterday in UTC with GNU, BSD or BusyBox date.
yesterday() {
    date -u -d yesterday +%F 2>/dev/null ||
        date -u -v-1d +%F 2>/dev/null ||
        date -u -d "@$(( $(date -u +%s) - 86400 ))" +%F 2>/dev/null
}

BATCH_DATE="${BATCH_DATE:-}"
if [[ -z $BATCH_DATE ]]; then
    BATCH_DATE="$(yesterday)" ||
        die "this date(1) cannot compute yesterday's date: set BATCH_DATE=YYYY-MM-DD"
fi
[[ $BATCH_DATE =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] ||
    die "BATCH_DATE must be YYYY-MM-DD, not '$BATCH_DATE'"
BUILD_PODS="${BUILD_PODS:-4}"
[[ $BUILD_PODS =~ ^[1-9][0-9]*$ ]] ||
    die "BUILD_PODS must be a positive integer, not '$BUILD_PODS'"
: "${PROOFMARK_IMAGE:?set PROOFMARK_IMAGE}" "${PROOFMARK_STORE:?set PROOFMARK_STORE}"
export BATCH_DATE BUILD_PODS PROOFMARK_IMAGE PROOFMARK_STORE

step_timeout="${STEP_TIMEOUT:-6h}"
[[ $step_timeout =~ ^([0-9]+)([smh]?)$ ]] ||
    die "STEP_TIMEOUT must be seconds, or a number with s, m or h, not '$step_timeout'"
case "${BASH_REMATCH[2]}" in
    h) timeout_secs=$(( BASH_REMATCH[1] * 3600 )) ;;
    m) timeout_secs=$(( BASH_REMATCH[1] * 60 )) ;;
    *) timeout_secs=$(( BASH_REMATCH[1] )) ;;
esac
poll_secs=15

# Only the script's own variables are substituted; any other `$` in the
# manifests stays as it is.
# shellcheck disable=SC2016 # envsubst's list of variables, not an expansion
substituted='$BATCH_DATE $BUILD_PODS $PROOFMARK_IMAGE $PROOFMARK_STORE'

# Prints the state of Job $1: absent, running, Complete, Failed, or unknown
# when the API server cannot be asked.
job_state() {
    local out
    out="$(kubectl get job "$1" --ignore-not-found -o \
        jsonpath='{.metadata.name}{range .status.conditions[?(@.status=="True")]}{" "}{.type}{end}')" ||
        { echo unknown; return; }
    case " $out " in
        "  ") echo absent ;;
        *" Complete "*) echo Complete ;;
        *" Failed "*) echo Failed ;;
        *) echo running ;;
    esac
}

kubectl apply -f "$here/configmap.yaml"
for step in 1-plan:plan 2-build-indexed:build 3-finalize:finalize; do
    manifest="$(envsubst "$substituted" < "$here/${step%%:*}.yaml")"
    job="proofmark-${step#*:}-$BATCH_DATE"
    state="$(job_state "$job")"
    case $state in
        unknown) die "cannot read job/$job from the API server" ;;
        Failed)
            # A rerun replaces a failed step; its finished work is in the store.
            echo "deleting the failed job/$job" >&2
            kubectl delete job "$job" --cascade=foreground --wait=true
            state=absent ;;
    esac
    if [[ $state == absent ]]; then
        printf '%s\n' "$manifest" | kubectl apply -f -
        state=running
    else
        echo "job/$job exists ($state): waiting for it" >&2
    fi
    deadline=$(( SECONDS + timeout_secs ))
    until [[ $state == Complete || $state == Failed ]]; do
        if (( SECONDS >= deadline )); then
            die "job/$job has not finished after $step_timeout: inspect it" \
                "(kubectl describe job/$job), then rerun this script, which waits for it" \
                "again or, once it has failed, replaces it"
        fi
        sleep "$poll_secs"
        state="$(job_state "$job")"
        [[ $state != absent ]] || die "job/$job was deleted while this script waited for it"
    done
    if [[ $state == Failed ]]; then
        reason="$(kubectl get job "$job" -o \
            jsonpath='{.status.conditions[?(@.type=="Failed")].reason}: {.status.conditions[?(@.type=="Failed")].message}' ||
            true)"
        die "job/$job failed ($reason): inspect it (kubectl describe job/$job," \
            "kubectl logs job/$job), fix the cause and rerun this script: it deletes the" \
            "failed Job, and finished work is kept and resumed"
    fi
    echo "job/$job complete" >&2
done
