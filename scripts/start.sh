#!/usr/bin/env bash
# Set everything up and start the review app (a demo project is built on first start).
# Listens on 127.0.0.1 unless FOOTPRINTS_ADDRESS says otherwise (0.0.0.0: every interface; put TLS in front).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/streamlit run app/streamlit_app.py --server.headless true --browser.gatherUsageStats false \
  --server.address "${FOOTPRINTS_ADDRESS:-127.0.0.1}" "$@"
