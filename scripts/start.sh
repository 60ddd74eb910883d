#!/usr/bin/env bash
# Set everything up and start the review app (a demo project is built on first start).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/streamlit run app/streamlit_app.py --server.headless true --browser.gatherUsageStats false "$@"
