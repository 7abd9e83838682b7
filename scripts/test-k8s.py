"""Checks the Kubernetes layout of jobs/k8s/ against the Kubernetes API schemas.

Usage: test-k8s.py [K8S_DIR]   (default: jobs/k8s beside this script's folder)

Every manifest is validated, strictly (no field the API does not know), with the PyPI package
`kubernetes-validate` against the oldest Kubernetes version jobs/k8s/README.md supports and the
newest the package knows. The Job templates (the numbered files, `1-plan.yaml` ...) are checked
as run-nightly.sh applies them: with its variables ($BATCH_DATE, $BUILD_PODS, $PROOFMARK_IMAGE,
$PROOFMARK_STORE) filled in the way envsubst fills them, and every other `$` left as it is; the
other manifests are applied as they are, and checked so. Prints one line per document checked
and one per problem; exit 0 only when every document of every file is valid.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import kubernetes_validate
import yaml

#: The Kubernetes versions checked: the oldest the README supports, and the newest known.
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

#: What run-nightly.sh substitutes, with example values of the right form.
SUBSTITUTED = {
    "BATCH_DATE": "2026-11-24",
    "BUILD_PODS": "4",
    "PROOFMARK_IMAGE": "registry.example/proofmark:0.1.0",
    "PROOFMARK_STORE": "s3://proofmark-batches/prod",
}


def substitute(text: str) -> str:
    """`text` with run-nightly.sh's variables replaced as envsubst replaces them."""
    pattern = re.compile(r"\$(?:\{(%s)\}|(%s)\b)" % (("|".join(SUBSTITUTED),) * 2))
    return pattern.sub(lambda m: SUBSTITUTED[m.group(1) or m.group(2)], text)


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    k8s = Path(argv[1]) if len(argv) > 1 else here.parent / "jobs" / "k8s"
    manifests = sorted(k8s.glob("*.yaml"))
    if not manifests:
        print(f"no manifests in {k8s}", file=sys.stderr)
        return 1
    problems = 0
    for path in manifests:
        text = path.read_text(encoding="utf-8")
        if path.name[:1].isdigit():
            text = substitute(text)
        try:
            documents = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as e:
            print(f"FAIL {path.name}: not YAML: {e}")
            problems += 1
            continue
        for doc in documents:
            if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
                print(f"FAIL {path.name}: a document without apiVersion and kind")
                problems += 1
                continue
            metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
            name = f"{path.name}: {doc['kind']}/{metadata.get('name')}"
            for version in VERSIONS:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    print(f"FAIL {name} (Kubernetes {version}): {e.message} at "
                          f"{'.'.join(str(p) for p in e.path)}")
                    problems += 1
                except kubernetes_validate.SchemaNotFoundError as e:
                    print(f"FAIL {name} (Kubernetes {version}): no schema: {e}")
                    problems += 1
            print(f"checked {name} against Kubernetes {', '.join(VERSIONS)}")
    if problems:
        print(f"{problems} problem(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
