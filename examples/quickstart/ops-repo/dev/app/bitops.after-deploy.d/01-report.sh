#!/usr/bin/env bash
echo "after: notes written to $(basename "$BITOPS_OPSREPO_ENVIRONMENT_DIR")/RELEASE-NOTES.txt"
