#!/usr/bin/env bash
# Runs once, at image build time (`bitops install`), in the installed plugin's folder.
set -euo pipefail
date -u +%Y-%m-%dT%H:%M:%SZ > installed-at
echo "greet plugin installed"
