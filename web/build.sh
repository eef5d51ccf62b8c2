#!/usr/bin/env bash
# Vendors the web pages' browser dependencies: installs exactly what
# package-lock.json pins and copies the files the pages load into
# internal/webui/assets/vendor/, where the Go build embeds them. Run it after
# changing package.json (then commit package-lock.json and the copied files);
# the Go build itself never needs npm.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
out=../internal/webui/assets/vendor
mkdir -p "$out"
cp node_modules/uplot/dist/uPlot.iife.min.js "$out/uPlot.iife.min.js"
cp node_modules/uplot/dist/uPlot.min.css "$out/uPlot.min.css"
cp node_modules/uplot/LICENSE "$out/uPlot.LICENSE"
echo "vendored uplot $(node -p 'require("./node_modules/uplot/package.json").version') into internal/webui/assets/vendor/"
