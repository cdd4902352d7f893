#!/usr/bin/env bash
# Runs before the plugin, in the staged tool folder.
echo "before: checking $(basename "$PWD") for ${BITOPS_ENVIRONMENT}"
echo "merged values.yaml:"
cat values.yaml
