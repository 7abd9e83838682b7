#!/usr/bin/env bash
# Runs one night's batch on Kubernetes: plan, the Indexed build Job, finalize,
# each waiting for the previous one. Schedule it from a CronJob whose service
# account may create and watch Jobs, or from any scheduler with kubectl.
#
#   BATCH_DATE=2026-11-24 PROOFMARK_IMAGE=registry.example/proofmark:0.1.0 \
#   PROOFMARK_STORE=s3://proofmark-batches/prod BUILD_PODS=8 jobs/k8s/run-nightly.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export BATCH_DATE="${BATCH_DATE:-$(date -u -d yesterday +%F)}"
: "${PROOFMARK_IMAGE:?set PROOFMARK_IMAGE}" "${PROOFMARK_STORE:?set PROOFMARK_STORE}"
export BUILD_PODS="${BUILD_PODS:-4}"
timeout="${STEP_TIMEOUT:-6h}"
kubectl apply -f "$here/configmap.yaml"
for step in 1-plan 2-build-indexed 3-finalize; do
    name="$(envsubst < "$here/$step.yaml" | kubectl apply -f - -o name)"
    echo "started $name" >&2
    if ! kubectl wait --for=condition=complete --timeout="$timeout" "$name"; then
        echo "$name did not complete: inspect it (kubectl logs $name), delete it" \
             "(kubectl delete $name) and rerun this script: finished work is kept and resumed" >&2
        exit 1
    fi
done
