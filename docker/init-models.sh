#!/bin/sh
# docker-compose.yml's model_init: the first model version, trained once, when the models volume
# holds no approved version the scoring consumer could use. Later starts find one and exit at once.
#   MODEL_INIT_COUNT   transactions simulated for the first history (default 300000; `make models` uses 1M)
set -eu
count=${MODEL_INIT_COUNT:-300000}
approved() {
    python -c 'import sys
from fraudcore.models.registry import latest_approved
from fraudcore.settings import get_settings
name = latest_approved(get_settings().models.dir)
print(name or "")
sys.exit(0 if name else 1)'
}
if version=$(approved); then
    echo "model_init: $MODELS__DIR already holds the approved version $version; nothing to train"
    exit 0
fi
echo "model_init: no approved model version in $MODELS__DIR; simulating $count transactions and training the first one"
started=$(date +%s)
history=$(mktemp -d)
python -m simulator offline --out "$history" --count "$count" --seed 7 --no-progress
python -m retrainer train --data "$history" --no-progress
rm -rf "$history"
if version=$(approved); then
    echo "model_init: $version trained and approved in $(( $(date +%s) - started )) s"
else
    echo "model_init: the version trained on $count transactions was not approved; raise MODEL_INIT_COUNT" >&2
    exit 1
fi
