#!/usr/bin/env bash
# Installs everything SecondReader and its tests need on a fresh Debian machine:
# Debian packages (dcmtk: real DIMSE peers and dcmdump; dicom3tools: the dciodvfy IOD validator; orthanc) and the
# npm dependencies from package-lock.json. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dcmdump  >/dev/null 2>&1 || need+=(dcmtk)
command -v dciodvfy >/dev/null 2>&1 || need+=(dicom3tools)
# Orthanc (+ its DICOMweb plugin): the real PACS peer of the interop tests and bench:ingest. Tests start their own
# instance on loopback ports with their own config; the Debian service itself is never started here.
command -v Orthanc  >/dev/null 2>&1 || need+=(orthanc)
[ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || need+=(orthanc-dicomweb)
# A CJK font for the Chinese clinical report (PDF, and its rendering test in chromium): WenQuanYi Micro Hei, a 1.6 MB
# download vs 56 MB for fonts-noto-cjk. Without it chromium draws Chinese as empty boxes.
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
# Chromium: the browser of the web app's end-to-end test (driven by playwright-core; never `npx playwright install`).
[ -x /usr/bin/chromium ] || need+=(chromium)
# openssl: the DICOM TLS test (src/dimse/tls.test.ts) makes a throwaway CA and certificates with it.
command -v openssl  >/dev/null 2>&1 || need+=(openssl)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: please install Debian packages: ${need[*]} (tests that need them will fail)" >&2
  fi
fi

# onnxruntime-node (if ever a dependency) would try to download CUDA binaries in postinstall.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# The radiologist web app (web/, an npm workspace): `secondreader serve` serves web/dist at /.
if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/index.html web/vite.config.mjs web/package.json -newer web/dist/index.html 2>/dev/null | head -1)" ]; then
  npm run build -w web
fi
echo "setup: ok (node $(node -v), dcmtk $(dcmdump --version 2>/dev/null | head -1 | awk '{print $3}'))"
