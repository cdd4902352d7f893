#!/usr/bin/env bash
# Nothing to install: the plugin uses only bash.
echo "release-notes plugin ready"
